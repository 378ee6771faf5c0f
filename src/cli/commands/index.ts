/**
 * The table of `shoal` subcommands, in the order `shoal --help` lists them. Each is a module
 * exporting a Command ({ name, summary, usage, run }); main.ts dispatches by name.
 */
import type { Command } from '../command.js';
import { backup } from './backup.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { monitor } from './monitor.js';
import { serve } from './serve.js';
import { stats } from './stats.js';
import { verify } from './verify.js';

export const commands: readonly Command[] = [
  stats,
  verify,
  exportCommand,
  importCommand,
  backup,
  serve,
  monitor,
];
