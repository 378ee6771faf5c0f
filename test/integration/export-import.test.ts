// col.export and db.importCollection: a collection round-trips bit for bit through JSON Lines
// (ids, vectors, settings), in every space, through files and streams, and a bad import
// leaves nothing behind.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

import { describe, expect, it } from 'vitest';

import { AlreadyExistsError, InvalidArgumentError, InvalidMetadataError, Shoal, type Collection, type Metadata } from '../../src/index.js';
import { randomVectors } from '../support/data.js';
import { tempDirsPerTest } from '../support/db.js';

const dir = tempDirsPerTest();

/** Every record as id -> the bits of its vector, via get(). */
async function contents(col: Collection, ids: readonly string[]): Promise<Map<string, number[]>> {
  const got = await col.get(ids);
  return new Map(got.ids.map((id, i) => [id, Array.from(new Uint32Array((got.vectors[i] as Float32Array).slice().buffer))]));
}

describe('export and import', () => {
  it.each(['l2', 'ip', 'cosine'] as const)('round-trips a %s collection bit for bit through a file', async (space) => {
    const path = dir();
    const file = join(dir(), 'c.jsonl');
    const db = await Shoal.open({ path, threads: 2 });
    const col = await db.createCollection('src', { dim: 7, space, shards: 3, M: 10, efConstruction: 50, efSearch: 33 });
    const n = 1500;
    const ids = Array.from({ length: n }, (_, i) => `id-${i}-${'é'.repeat(i % 3)}`);
    const vectors = randomVectors(n, 7, 5);
    vectors[3] = -0; // a negative zero survives too
    await col.add(ids, vectors);
    await col.delete(ids.slice(0, 100));
    const live = ids.slice(100);
    const report = await col.export(file, { batchSize: 128 });
    expect(report.records).toBe(n - 100);

    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(n - 100 + 1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ format: 'shoal-collection', version: 1, name: 'src', dim: 7, space, M: 10, efConstruction: 50, efSearch: 33, shards: 3, count: n - 100 });
    expect(Object.keys(JSON.parse(lines[1] as string))).toEqual(['id', 'vector']);

    const copy = await db.importCollection('dst', file, { batchSize: 200 });
    expect({ dim: copy.dim, space: copy.space, M: copy.M, efConstruction: copy.efConstruction, efSearch: copy.efSearch, shards: copy.shardCount }).toEqual({
      dim: 7, space, M: 10, efConstruction: 50, efSearch: 33, shards: 3,
    });
    expect(await copy.count()).toBe(n - 100);
    expect(await contents(copy, live)).toEqual(await contents(col, live));
    // Export of the copy is the same text but for the name and time in the header.
    const again = join(dir(), 'again.jsonl');
    await copy.export(again, { batchSize: 128 });
    const sorted = (text: string): string[] => text.trimEnd().split('\n').slice(1).sort();
    expect(sorted(readFileSync(again, 'utf8'))).toEqual(sorted(readFileSync(file, 'utf8')));
    await db.close();
  });

  it('streams: export to a Writable that applies backpressure, import from a Readable', async () => {
    const db = await Shoal.open({ threads: 1 });
    const col = await db.createCollection('s', { dim: 32 });
    await col.add(Array.from({ length: 3000 }, (_, i) => `s${i}`), randomVectors(3000, 32, 8));
    const sink = new PassThrough({ highWaterMark: 1024 });
    const listeners = sink.listenerCount('error');
    const chunks: Buffer[] = [];
    let drained = 0;
    sink.on('drain', () => drained++);
    // Read slowly (a pause after every chunk; the writer writes one chunk per page), so the
    // writer has to wait for 'drain'.
    sink.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      sink.pause();
      setTimeout(() => sink.resume(), 1);
    });
    await col.export(sink, { batchSize: 100 });
    expect(drained).toBeGreaterThan(10);
    expect(sink.listenerCount('error')).toBe(listeners); // none left behind by the waits
    sink.end(); // the caller's stream stays open after an export: ending it is the caller's call
    await finished(sink);
    const text = Buffer.concat(chunks).toString();
    const imported = await db.importCollection('s2', Readable.from([text]));
    expect(await imported.count()).toBe(3000);
    await db.close();
  });

  it('round-trips metadata with the vectors', async () => {
    const db = await Shoal.open({ path: dir(), threads: 1 });
    const col = await db.createCollection('m', { dim: 2, shards: 2 });
    const metadatas: Metadata[] = [{ lang: 'en', year: 2024, ok: true, tags: ['a', 'b'] }, {}, { n: 0.1 + 0.2 }];
    await col.add(['a', 'b', 'c'], [[1, 2], [3, 4], [5, 6]], metadatas);
    const file = join(dir(), 'm.jsonl');
    await col.export(file);
    const back = await db.importCollection('m2', file);
    const got = await back.get(['a', 'b', 'c']);
    expect(got.metadatas).toEqual(metadatas);
    expect(await back.count({ where: { lang: 'en' } })).toBe(1);
    await db.close();
  });

  it('a bad line or an existing name leaves no collection behind and says which line', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    const file = join(dir(), 'bad.jsonl');
    const head = JSON.stringify({ format: 'shoal-collection', version: 1, name: 'x', dim: 2, space: 'l2', M: 8, efConstruction: 20, efSearch: 10, shards: 2, count: 3 });
    writeFileSync(file, `${head}\n{"id":"a","vector":[1,2]}\n{"id":"b","vector":[1,2]}\n{"id":"c","vector":[1]}\n`);
    await expect(db.importCollection('x', file, { batchSize: 1 })).rejects.toThrow(/line 4: vector of "c"/);
    expect(db.listCollections()).toEqual([]);

    writeFileSync(file, `${head}\n{"id":"a","vector":[1,2]}\n{"id":"b","vector":[1,2],"metadata":{"lang":["en"]}}\n{"id":"c","vector":[1,2],"metadata":{"n":{"x":1}}}\n`);
    const err = await db.importCollection('x', file, { batchSize: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidMetadataError);
    expect(db.listCollections()).toEqual([]);

    writeFileSync(file, `${head}\n{"id":"a","vector":[1,2]}\n{"id":"a","vector":[3,4]}\n`);
    await expect(db.importCollection('x', file, { batchSize: 1 })).rejects.toBeInstanceOf(AlreadyExistsError);
    expect(db.listCollections()).toEqual([]);

    await db.createCollection('taken', { dim: 2 });
    writeFileSync(file, `${head}\n`);
    await expect(db.importCollection('taken', file)).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(db.importCollection('y', join(dir(), 'missing.jsonl'))).rejects.toMatchObject({ code: 'SHOAL_IO' });
    expect(db.listCollections()).toEqual(['taken']);
    await db.close();
  });
});
