/** Waits until other processes use < 0.1 core for 5 s running (max 20 min): node bench/diag/wait-quiet.mjs */
import { waitQuiet } from '../lib/cpu.mjs';

const r = await waitQuiet(1200, 5000);
console.error(`[wait-quiet] waited ${r.waitedSeconds.toFixed(0)} s${r.gaveUp ? ' (gave up)' : ''}`);
