// Metadata end to end: writes with metadata, filtered queries against a brute force over the
// matching records, count and scan (also while writes go on), persistence through a clean
// close, the write-ahead log alone, and a data directory written before metadata existed.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { InvalidArgumentError, InvalidFilterError, InvalidMetadataError, NotFoundError, Shoal, type Metadata } from '../../src/index.js';
import { readManifest, writeManifest } from '../../src/storage/manifest.js';
import { spawnSync } from 'node:child_process';

// @ts-expect-error: a plain .mjs fixture shared with the child process
import { batchIds, batchMetas, revisedMetas, revises } from '../fixtures/durable-writer.mjs';
import { randomVectors, rng } from '../support/data.js';
import { tempDirsPerTest } from '../support/db.js';

const dir = tempDirsPerTest();
const WRITER = new URL('../fixtures/durable-writer.mjs', import.meta.url).pathname;
const DIM = 8;
const ids = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `r${from + i}`);
/** Record i's metadata: `m` cycles 0..9, so `{ m: x }` matches a tenth. */
const metaOf = (i: number): { m: number; parity: string; tags: string[]; big: boolean } & Metadata => ({
  m: i % 10,
  parity: i % 2 === 0 ? 'even' : 'odd',
  tags: [`t${i % 3}`, `u${i % 4}`],
  big: i >= 500,
});

function sqDist(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let j = 0; j < a.length; j++) d += ((a[j] as number) - (b[j] as number)) ** 2;
  return d;
}

describe('metadata on writes', () => {
  it('stores, replaces and returns metadata; upsert without metadatas keeps it; a bad value applies nothing', async () => {
    const db = await Shoal.open({ path: dir(), threads: 2 });
    const col = await db.createCollection('c', { dim: 2, shards: 2 });
    await col.add(['a', 'b', 'c'], [[1, 0], [0, 1], [1, 1]], [{ x: 1, s: 'p' }, null, { tags: ['q', 'r'], ok: true }]);
    expect((await col.get(['a', 'b', 'c'])).metadatas).toEqual([{ x: 1, s: 'p' }, {}, { tags: ['q', 'r'], ok: true }]);
    await col.upsert(['a'], [[2, 2]]);
    expect((await col.get(['a'])).metadatas).toEqual([{ x: 1, s: 'p' }]);
    await col.upsert(['a', 'd'], [[2, 2], [3, 3]], [{ y: 'z' }, { y: 'w' }]);
    expect((await col.get(['a', 'd'])).metadatas).toEqual([{ y: 'z' }, { y: 'w' }]);
    await col.setMetadata(['b', 'c'], [{ k: false }, {}]);
    const got = await col.get(['b', 'c']);
    expect(got.metadatas).toEqual([{ k: false }, {}]);
    expect(Array.from(got.vectors[0] as Float32Array)).toEqual([0, 1]);

    // A bad value in the middle of a batch: the error names the id and key; nothing is added.
    const err = await col.add(['e', 'f'], [[0, 0], [1, 0]], [{ ok: 1 }, { bad: NaN }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidMetadataError);
    expect((err as InvalidMetadataError).details).toMatchObject({ id: 'f', key: 'bad', row: 1 });
    expect(await col.count()).toBe(4);
    // setMetadata on an absent id changes nothing.
    await expect(col.setMetadata(['a', 'nope'], [{ v: 1 }, { v: 2 }])).rejects.toThrow(NotFoundError);
    expect((await col.get(['a'])).metadatas).toEqual([{ y: 'z' }]);
    await expect(col.setMetadata(['a'], undefined as never)).rejects.toThrow(InvalidArgumentError);
    // A deleted id's label is reused without its old metadata.
    await col.delete(['d']);
    await col.add(['g'], [[5, 5]]);
    expect((await col.get(['g'])).metadatas).toEqual([{}]);
    expect(await col.count({ where: { y: 'w' } })).toBe(0);
    await db.close();
  });
});

describe('filtered queries', () => {
  it('return exactly the nearest matching records at every selectivity, through exact and graph paths', async () => {
    const db = await Shoal.open({ path: dir(), threads: 2 });
    const col = await db.createCollection('c', { dim: DIM, shards: 2 });
    const n = 3000;
    const base = randomVectors(n, DIM, 1);
    const next = rng(3);
    const metas = Array.from({ length: n }, (_, i) => ({ ...metaOf(i), r: next() }));
    await col.add(ids(n), base, metas);
    const queries = randomVectors(20, DIM, 2);
    const wheres: [Record<string, unknown>, (m: (typeof metas)[number]) => boolean][] = [
      [{ m: 3 }, (m) => m.m === 3],
      [{ r: { $lt: 0.005 } }, (m) => m.r < 0.005],
      [{ r: { $gte: 0.5 } }, (m) => m.r >= 0.5],
      [{ tags: 't1', parity: { $ne: 'odd' } }, (m) => m.tags.includes('t1') && m.parity !== 'odd'],
      [{ $or: [{ m: { $in: [1, 2] } }, { big: false }] }, (m) => m.m === 1 || m.m === 2 || !m.big],
      [{ m: { $nin: [0, 1, 2, 3, 4, 5, 6, 7, 8] }, r: { $gt: 0.9 } }, (m) => m.m === 9 && m.r > 0.9],
      [{ m: 42 }, () => false],
    ];
    for (const [where, match] of wheres) {
      const rows = metas.map((m, i) => [m, i] as const).filter(([m]) => match(m)).map(([, i]) => i);
      // ef 16: up to 32 x 16 = 512 matching labels a shard is scanned exactly, above that walked.
      const results = await col.query(queries, { k: 10, ef: 16, where });
      let hit = 0;
      results.forEach((r, q) => {
        const query = queries.subarray(q * DIM, (q + 1) * DIM);
        const truth = rows
          .map((i) => [sqDist(base.subarray(i * DIM, (i + 1) * DIM), query), i] as const)
          .sort((a, b) => a[0] - b[0])
          .slice(0, 10)
          .map(([, i]) => `r${i}`);
        // Every result matches, and fewer than k only when fewer than k match.
        for (const id of r.ids) expect(match(metas[Number(id.slice(1))] as (typeof metas)[number]), `${JSON.stringify(where)} ${id}`).toBe(true);
        expect(r.ids.length).toBe(Math.min(10, rows.length));
        hit += r.ids.filter((id) => truth.includes(id)).length;
      });
      expect(hit / (results.length * Math.min(10, rows.length) || 1), JSON.stringify(where)).toBeGreaterThanOrEqual(rows.length === 0 ? 0 : 0.95);
      expect(await col.count({ where })).toBe(rows.length);
    }
    // where beside an id allow-list: both hold.
    const r = await col.query(queries.subarray(0, DIM), { k: 5, where: { parity: 'even' }, filter: { ids: ['r1', 'r2', 'r3', 'r4', 'r6'] } });
    expect(r[0]?.ids.sort()).toEqual(['r2', 'r4', 'r6']);
    await expect(col.query(queries.subarray(0, DIM), { where: { m: { $gt: 'x' } } })).rejects.toThrow(InvalidFilterError);
    await expect(col.count({ where: { $nor: [] } })).rejects.toThrow(/expected a field name, \$and or \$or/);
    await db.close();
  });
});

describe('scan', () => {
  it('yields every live record exactly once with its vector and metadata, and honours where', async () => {
    const db = await Shoal.open({ path: dir(), threads: 2 });
    const col = await db.createCollection('c', { dim: DIM, shards: 3 });
    const n = 700;
    const base = randomVectors(n, DIM, 4);
    await col.add(ids(n), base, ids(n).map((_, i) => metaOf(i)));
    const seen = new Map<string, number>();
    for await (const page of col.scan({ batchSize: 64, include: ['vectors', 'metadatas'] })) {
      expect(page.ids.length).toBeLessThanOrEqual(64);
      page.ids.forEach((id, j) => {
        const i = Number(id.slice(1));
        seen.set(id, (seen.get(id) ?? 0) + 1);
        expect(Array.from(page.vectors?.[j] as Float32Array)).toEqual(Array.from(base.subarray(i * DIM, (i + 1) * DIM)));
        expect(page.metadatas?.[j]).toEqual(metaOf(i));
      });
    }
    expect(seen.size).toBe(n);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    let evens = 0;
    for await (const page of col.scan({ where: { parity: 'even' }, include: [] })) {
      expect(page.vectors).toBeUndefined();
      evens += page.ids.filter((id) => Number(id.slice(1)) % 2 === 0).length;
      expect(page.ids.every((id) => Number(id.slice(1)) % 2 === 0)).toBe(true);
    }
    expect(evens).toBe(n / 2);
    expect(() => col.scan({ batchSize: 0 })).toThrow(InvalidArgumentError);
    expect(() => col.scan({ include: ['ids' as never] })).toThrow(/include/);
    await db.close();
  });

  it('under concurrent writes: records live throughout come exactly once, deleted ones never after their delete', async () => {
    const db = await Shoal.open({ path: dir(), threads: 2 });
    const col = await db.createCollection('c', { dim: DIM, shards: 4 });
    const n = 800;
    await col.add(ids(n), randomVectors(n, DIM, 5), ids(n).map((_, i) => metaOf(i)));
    const stable = new Set(ids(400)); // never touched by the writer below
    const seen = new Map<string, number>();
    let writing = true;
    const writer = (async () => {
      let b = 0;
      while (writing) {
        // Delete and re-add records 400.. and add new ones, with fresh metadata.
        const victims = ids(20, 400 + (b % 20) * 20);
        await col.delete(victims);
        await col.add(victims, randomVectors(20, DIM, 100 + b), victims.map(() => ({ gen: b })));
        await col.add(ids(5, 10_000 + 5 * b), randomVectors(5, DIM, 200 + b));
        b++;
      }
    })();
    for await (const page of col.scan({ batchSize: 16 })) {
      for (const id of page.ids) seen.set(id, (seen.get(id) ?? 0) + 1);
      await new Promise((done) => setImmediate(done)); // let the writer run between pages
    }
    writing = false;
    await writer;
    for (const id of stable) expect(seen.get(id), id).toBe(1);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    await db.close();
  });
});

describe('metadata persistence', () => {
  it('survives a clean close and loads, is counted in the budget, and is evicted with its shard', async () => {
    const path = dir();
    let db = await Shoal.open({ path, threads: 2 });
    let col = await db.createCollection('c', { dim: DIM, shards: 2 });
    await col.add(ids(300), randomVectors(300, DIM, 6), ids(300).map((_, i) => metaOf(i)));
    const meta = col.stats().shardDetails.reduce((s, x) => s + x.metadataBytes, 0);
    expect(meta).toBeGreaterThan(300 * 4);
    expect(db.stats().usedBytes).toBeGreaterThanOrEqual(meta);
    await col.unload();
    expect(col.stats().shardDetails.every((s) => s.metadataBytes === 0)).toBe(true);
    expect(await col.count({ where: { m: 7 } })).toBe(30);
    await col.setMetadata(['r7'], [{ m: 8 }]);
    await db.close();
    expect(readdirSync(join(path, 'collections', 'c')).filter((f) => f.endsWith('.meta')).length).toBe(2);
    db = await Shoal.open({ path, threads: 2 });
    col = db.getCollection('c');
    expect(await col.count({ where: { m: 7 } })).toBe(29);
    expect((await col.get(['r7', 'r11'])).metadatas).toEqual([{ m: 8 }, metaOf(11)]);
    await db.close();
  });

  it('replays metadata from the log after an exit without close: adds, revisions and a delete', async () => {
    const path = dir();
    const r = spawnSync(process.execPath, [WRITER, 'write-meta', path, '6'], { encoding: 'utf8' });
    expect(r.stdout, r.stderr).toContain('done');
    const db = await Shoal.open({ path, threads: 1 });
    const col = db.getCollection('c');
    expect(await col.count()).toBe(59);
    for (let b = 1; b < 6; b++) expect((await col.get(batchIds(b))).metadatas).toEqual(revises(b) ? revisedMetas(b) : batchMetas(b));
    expect((await col.get(batchIds(0).slice(1))).metadatas).toEqual(revisedMetas(0).slice(1));
    expect(await col.count({ where: { revised: true } })).toBe(19);
    expect(await col.count({ where: { half: 'low', tags: 't1' } })).toBe(5); // batch 1's low half (batch 4 was revised)
    await db.close();
  });

  it('opens a directory written before metadata: no .meta files, no flag in the manifest', async () => {
    const path = dir();
    let db = await Shoal.open({ path, threads: 1 });
    await (await db.createCollection('c', { dim: DIM, shards: 2 })).add(ids(50), randomVectors(50, DIM, 7));
    await db.close();
    const manifest = readManifest(path);
    writeManifest(path, {
      ...manifest,
      collections: manifest.collections.map((c) => ({ ...c, shards: c.shards.map(({ metadata: _, ...s }) => s) })),
    });
    for (const f of readdirSync(join(path, 'collections', 'c'))) if (f.endsWith('.meta')) rmSync(join(path, 'collections', 'c', f));
    db = await Shoal.open({ path, threads: 1 });
    const col = db.getCollection('c');
    expect(await col.count()).toBe(50);
    expect((await col.get(['r3'])).metadatas).toEqual([{}]);
    await col.setMetadata(['r3'], [{ now: 'set' }]);
    expect(await col.count({ where: { now: 'set' } })).toBe(1);
    await db.close();
  });
});
