// Recovery from damage: torn and bit-flipped log tails, damaged segment files, warm restart,
// and closing on a signal. Writers run in child processes that exit without closing, so the
// log alone carries their writes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { CorruptionError, Shoal } from '../../src/index.js';
import { randomVectors } from '../support/data.js';
import { tempDirsPerTest } from '../support/db.js';
// @ts-expect-error: a plain .mjs fixture shared with the child process
import { batchIds, batchVectors } from '../fixtures/durable-writer.mjs';
import { nodeCommand } from '../support/node.js';

const WRITER = new URL('../fixtures/durable-writer.mjs', import.meta.url).pathname;
const dir = tempDirsPerTest();

/** Has a child write `batches` batches and exit without closing. */
function writeAndExit(path: string, batches: number): void {
  const r = spawnSync(...nodeCommand([WRITER, 'write', path, String(batches)]), { encoding: 'utf8' });
  expect(r.stdout).toContain('done');
}

function logFile(path: string): string {
  const files = readdirSync(join(path, 'wal')).filter((f) => f.endsWith('.log')).sort();
  const withData = files.filter((f) => statSync(join(path, 'wal', f)).size > 0);
  return join(path, 'wal', withData[withData.length - 1] as string);
}

async function presentBatches(db: Shoal, batches: number): Promise<number[]> {
  const col = db.getCollection('c');
  const present: number[] = [];
  for (let b = 0; b < batches; b++) {
    const got = await Promise.all(batchIds(b).map((id: string) => col.get([id]).then(() => 1, () => 0)));
    const n = got.reduce((a: number, x: number) => a + x, 0);
    expect([0, 10]).toContain(n); // never a partial batch
    if (n === 10) present.push(b);
  }
  return present;
}

describe('the write-ahead log after a crash', () => {
  it('replays every record when nothing was flushed', async () => {
    const path = dir();
    writeAndExit(path, 12);
    const db = await Shoal.open({ path, threads: 1 });
    expect(db.recovery.replayedRecords).toBe(12);
    expect(await presentBatches(db, 12)).toEqual([...Array(12).keys()]);
    const got = await db.getCollection('c').get(batchIds(5));
    expect(Array.from(got.vectors[3] as Float32Array)).toEqual(Array.from((batchVectors(5) as Float32Array).subarray(24, 32)));
    await db.close();
  });

  it.each([
    ['a torn final record', (file: string) => truncateSync(file, statSync(file).size - 7)],
    ['a bit flipped in the final record', (file: string) => {
      const b = readFileSync(file);
      b[b.length - 20] = (b[b.length - 20] as number) ^ 0x04;
      writeFileSync(file, b);
    }],
    ['garbage appended after the last record', (file: string) => writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('half a record')]))],
  ])('cuts off %s with a warning, keeps the bytes aside, and keeps every earlier record', async (_what, damage) => {
    const path = dir();
    writeAndExit(path, 8);
    const file = logFile(path);
    damage(file);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    const db = await Shoal.open({ path, threads: 1 });
    await new Promise((done) => setImmediate(done)); // warnings are emitted on the next tick
    process.off('warning', onWarning);
    const present = await presentBatches(db, 8);
    const appended = _what.startsWith('garbage');
    expect(present).toEqual([...Array(appended ? 8 : 7).keys()]);
    expect(db.recovery.truncatedTails).toHaveLength(1);
    const tail = db.recovery.truncatedTails[0];
    expect(existsSync(tail?.keptAs as string)).toBe(true);
    expect(warnings.some((w) => w.includes('cut off'))).toBe(true);
    // The database works on: new writes are logged and recovered too.
    await db.getCollection('c').add(['after'], randomVectors(1, 8, 1));
    await db.close();
    const again = await Shoal.open({ path, threads: 1 });
    expect(await again.getCollection('c').count()).toBe(present.length * 10 + 1);
    expect(again.recovery.truncatedTails).toHaveLength(0);
    await again.close();
  });
});

describe('a damaged segment file', () => {
  it('fails its collection with an error naming the file, moves it aside, and the others keep working', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    const a = await db.createCollection('a', { dim: 4 });
    const b = await db.createCollection('b', { dim: 4 });
    await a.add(['x', 'y'], [[1, 2, 3, 4], [4, 3, 2, 1]]);
    await b.add(['z'], [[1, 1, 1, 1]]);
    await db.close();

    const segDir = join(path, 'collections', 'a');
    const seg = join(segDir, readdirSync(segDir).find((f) => f.endsWith('.seg')) as string);
    const bytes = readFileSync(seg);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff;
    writeFileSync(seg, bytes);

    const reopened = await Shoal.open({ path, threads: 1, warmStart: false });
    const err = await reopened.getCollection('a').query([1, 2, 3, 4]).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).message).toContain(seg);
    expect((err as CorruptionError).message).toMatch(/checksum/);
    expect(existsSync(seg)).toBe(false);
    expect(readdirSync(segDir).some((f) => f.includes('.seg.corrupt-'))).toBe(true);
    await expect(reopened.getCollection('a').count()).rejects.toBeInstanceOf(CorruptionError);
    expect((await reopened.getCollection('b').query([1, 1, 1, 1]))[0]?.ids).toEqual(['z']);
    await reopened.close();

    // The failure is remembered: after a restart the collection still refuses with the same
    // error (not a missing-file error), and deleting it works.
    const third = await Shoal.open({ path, threads: 1 });
    const again = await third.getCollection('a').count().then(() => null, (e: unknown) => e);
    expect(again).toBeInstanceOf(CorruptionError);
    expect((again as CorruptionError).message).toContain(seg);
    await third.deleteCollection('a');
    expect(third.listCollections()).toEqual(['b']);
    await third.close();
  });
});

describe('leftovers of a crash in collection folders', () => {
  it('are swept at open: temporary files and stale generations, never damaged files kept aside', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    const c = await db.createCollection('c', { dim: 2 });
    await c.add(['a'], [[1, 2]]);
    await db.close();
    const folder = join(path, 'collections', 'c');
    writeFileSync(join(folder, '0-1.seg.tmp-123-abcd'), 'partial');
    writeFileSync(join(folder, '0-99.seg'), 'stale');
    writeFileSync(join(folder, '0-99.meta'), 'stale');
    writeFileSync(join(folder, '0-0.ids.corrupt-5'), 'evidence');
    const reopened = await Shoal.open({ path, threads: 1 });
    expect(readdirSync(folder).sort()).toEqual(['0-0.ids.corrupt-5', '0-1.ids', '0-1.meta', '0-1.seg']);
    expect(await reopened.getCollection('c').count()).toBe(1);
    await reopened.close();
  });
});

describe('a damaged id file', () => {
  it('fails its collection like a damaged segment, and frees the segment that loaded beside it', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    const a = await db.createCollection('a', { dim: 4 });
    await a.add(['x', 'y'], [[1, 2, 3, 4], [4, 3, 2, 1]]);
    await db.close();
    const folder = join(path, 'collections', 'a');
    const ids = join(folder, readdirSync(folder).find((f) => f.endsWith('.ids')) as string);
    const bytes = readFileSync(ids);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0x20;
    writeFileSync(ids, bytes);
    const reopened = await Shoal.open({ path, threads: 1, warmStart: false });
    const err = await reopened.getCollection('a').query([1, 2, 3, 4]).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).message).toContain(ids);
    expect(reopened.stats().residentBytes).toBe(0);
    expect(reopened.stats().nativeBytes).toBe(0);
    await reopened.close();
  });
});

describe('a damaged metadata file', () => {
  it('fails its collection with an error naming it, moved aside with the shard files; others keep working', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    const a = await db.createCollection('a', { dim: 4 });
    await a.add(['x', 'y'], [[1, 2, 3, 4], [4, 3, 2, 1]], [{ k: 'v' }, { k: 'w' }]);
    await (await db.createCollection('b', { dim: 4 })).add(['z'], [[1, 1, 1, 1]], [{ k: 'v' }]);
    await db.close();
    const folder = join(path, 'collections', 'a');
    const meta = join(folder, readdirSync(folder).find((f) => f.endsWith('.meta')) as string);
    const bytes = readFileSync(meta);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0x20;
    writeFileSync(meta, bytes);
    const reopened = await Shoal.open({ path, threads: 1, warmStart: false });
    const err = await reopened.getCollection('a').count({ where: { k: 'v' } }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).message).toContain(meta);
    expect(readdirSync(folder).some((f) => f.includes('.meta.corrupt-'))).toBe(true);
    expect(reopened.stats().nativeBytes).toBe(0);
    expect(await reopened.getCollection('b').count({ where: { k: 'v' } })).toBe(1);
    await reopened.close();
  });
});

describe('warm restart', () => {
  it('re-admits the collections resident at close before their first query, within the budget', async () => {
    const path = dir();
    let db = await Shoal.open({ path, threads: 1 });
    for (const [i, n] of ['cold', 'warm1', 'warm2', 'warm3'].entries()) {
      const c = await db.createCollection(n, { dim: 8, priority: n === 'warm3' ? 'high' : 'medium' });
      await c.add(Array.from({ length: 300 }, (_, j) => `${n}-${j}`), randomVectors(300, 8, i));
    }
    await db.getCollection('cold').unload();
    // Sized as warm start will load them: reloaded, without the label lock table.
    await db.getCollection('warm1').unload();
    await db.getCollection('warm1').load();
    const one = db.stats().collections.find((c) => c.name === 'warm1')?.bytes as number;
    await db.close();

    // Room for two of the three: the high-priority one first, then the most recent.
    db = await Shoal.open({ path, threads: 1, memoryLimitBytes: Math.floor(one * 2.6) });
    await db.warmedUp();
    const resident = db.listCollections().filter((n) => db.getCollection(n).resident);
    expect(resident).toContain('warm3');
    expect(resident).toHaveLength(2);
    expect(resident).not.toContain('cold');
    const s = db.stats();
    expect(s.loads).toBe(2);
    expect(s.misses).toBe(0); // no query has run: these loads were warm-up
    expect(s.peakBytes).toBeLessThanOrEqual(s.limitBytes);
    await db.close();

    const off = await Shoal.open({ path, threads: 1, warmStart: false });
    await off.warmedUp();
    expect(off.listCollections().some((n) => off.getCollection(n).resident)).toBe(false);
    await off.close();
  });
});

describe('closing on a signal', () => {
  it('flushes unlogged writes on SIGTERM before the process ends', async () => {
    const path = dir();
    const child = spawn(...nodeCommand([WRITER, 'signal', path]), { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ready) => child.stdout.once('data', () => ready()));
    const exited = new Promise<NodeJS.Signals | null>((done) => child.once('exit', (_code, signal) => done(signal)));
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    const db = await Shoal.open({ path, threads: 1 });
    expect(await db.getCollection('c').count()).toBe(50);
    expect(db.recovery.replayedRecords).toBe(0); // unlogged: the close flushed them
    await db.close();
  });
});
