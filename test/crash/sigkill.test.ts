// Acknowledged writes survive SIGKILL: a child adds batches from three concurrent writers and
// prints each acknowledged batch; the parent kills it at a random moment, reopens the database
// and checks every acknowledged id with its exact vector and metadata (every fourth batch's
// metadata is then replaced by setMetadata, acknowledged separately), and that no batch is partial.
// SHOAL_CRASH_TRIALS sets the number of trials (default 20; more in a long run).
import { spawn } from 'node:child_process';

import { afterAll, describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { rng } from '../support/data.js';
import { tempDir } from '../support/db.js';
// @ts-expect-error: a plain .mjs fixture shared with the child process
import { batchIds, batchMetas, batchVectors, PER_BATCH, revisedMetas, revises } from '../fixtures/durable-writer.mjs';
import { nodeCommand } from '../support/node.js';

const WRITER = new URL('../fixtures/durable-writer.mjs', import.meta.url).pathname;
const TRIALS = Number(process.env['SHOAL_CRASH_TRIALS'] ?? 20);
const SEED = Number(process.env['SHOAL_CRASH_SEED'] ?? Date.now() % 100_000);
const dir = tempDir();
afterAll(() => dir.remove());

/**
 * Runs the writer until `acks` batches are acknowledged (or it dies), then SIGKILLs it. `revised`
 * collects the batches whose metadata revision was acknowledged.
 */
function crashAfter(trial: number, acks: number, revised: Set<number>): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(...nodeCommand([WRITER, 'crash', dir.path, String(trial)]), { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    let buffer = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
        if (line.startsWith('meta ')) revised.add(Number(line.slice(5)));
      }
      if (acked.length >= acks && child.exitCode === null) child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

describe('acknowledged writes under SIGKILL', () => {
  it(`survive every kill, exactly, with no partial batch (${TRIALS} trials, seed ${SEED})`, async () => {
    const next = rng(SEED);
    const acknowledged = new Set<number>();
    const revised = new Set<number>();
    for (let trial = 0; trial < TRIALS; trial++) {
      const acked = await crashAfter(trial, 1 + Math.floor(next() * 25), revised);
      for (const b of acked) acknowledged.add(b);

      const db = await Shoal.open({ path: dir.path, threads: 1, warmStart: false });
      const col = db.getCollection('c');
      for (const b of acknowledged) {
        const got = await col.get(batchIds(b));
        expect(got.vectors.map((v) => Array.from(v))).toEqual(
          Array.from({ length: PER_BATCH }, (_, i) => Array.from((batchVectors(b) as Float32Array).subarray(i * 8, (i + 1) * 8))),
        );
        // Metadata too: an acknowledged revision is there; one not acknowledged may be, whole.
        if (revised.has(b)) expect(got.metadatas).toEqual(revisedMetas(b));
        else if (revises(b)) expect([JSON.stringify(batchMetas(b)), JSON.stringify(revisedMetas(b))]).toContain(JSON.stringify(got.metadatas));
        else expect(got.metadatas).toEqual(batchMetas(b));
      }
      // Batches begun but not acknowledged are there whole or not at all.
      const count = await col.count();
      expect(count % PER_BATCH).toBe(0);
      expect(count).toBeGreaterThanOrEqual(acknowledged.size * PER_BATCH);
      for (let b = 1000 * trial; b < 1000 * trial + 60; b++) {
        if (acknowledged.has(b)) continue;
        const present = await Promise.all(batchIds(b).map((id: string) => col.get([id]).then(() => 1, () => 0)));
        expect([0, PER_BATCH]).toContain(present.reduce((a: number, x: number) => a + x, 0));
      }
      await db.close();
      expect(native.totalBytes()).toBe(0);
    }
    expect(acknowledged.size).toBeGreaterThanOrEqual(TRIALS);
  }, 300_000);
});
