// Data directories: reopening restores everything, files are replaced atomically, one live
// process per directory, ephemeral databases leave nothing behind.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { CorruptionError, LockedError, Shoal } from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { lockDirectory } from '../../src/storage/dir-lock.js';
import { randomVectors } from '../support/data.js';
import { listFiles, tempDirsPerTest } from '../support/db.js';
import { nodeCommand } from '../support/node.js';

const dir = tempDirsPerTest();
const ids = (n: number, p = 'v'): string[] => Array.from({ length: n }, (_, i) => `${p}${i}`);

describe('reopening a data directory', () => {
  it('restores every collection with identical query results', async () => {
    const path = dir();
    const queries = randomVectors(40, 12, 2);
    let db = await Shoal.open({ path, threads: 2 });
    const a = await db.createCollection('alpha', { dim: 12, space: 'cosine', shards: 3, M: 12, efSearch: 40 });
    const b = await db.createCollection('beta', { dim: 4 });
    await a.add(ids(2000), randomVectors(2000, 12, 1));
    await a.delete(ids(100));
    await a.upsert(['v500'], randomVectors(1, 12, 3));
    await b.add(['only'], [[1, 2, 3, 4]]);
    await db.createCollection('empty', { dim: 2 });
    const before = await a.query(queries, { k: 10 });
    await db.close();

    db = await Shoal.open({ path, threads: 2 });
    expect(db.listCollections()).toEqual(['alpha', 'beta', 'empty']);
    const a2 = db.getCollection('alpha');
    expect({ dim: a2.dim, space: a2.space, shards: a2.shardCount, M: a2.M, efSearch: a2.efSearch }).toEqual({
      dim: 12, space: 'cosine', shards: 3, M: 12, efSearch: 40,
    });
    expect(await a2.count()).toBe(1900);
    expect(await a2.query(queries, { k: 10 })).toEqual(before);
    expect(Array.from((await db.getCollection('beta').get(['only'])).vectors[0] as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(await db.getCollection('empty').count()).toBe(0);
    // Deleted ids stay deleted, and their labels are reused without confusion.
    await expect(a2.get(['v5'])).rejects.toMatchObject({ code: 'SHOAL_NOT_FOUND' });
    await a2.add(['new-1', 'v5'], randomVectors(2, 12, 4));
    expect(await a2.count()).toBe(1902);
    await db.close();
  });

  it('flush() makes writes durable and replaces shard files, leaving one generation', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    const col = await db.createCollection('c', { dim: 4, shards: 2 });
    await col.add(ids(50), randomVectors(50, 4, 1));
    await db.flush();
    const first = listFiles(path);
    await col.add(ids(50, 'w'), randomVectors(50, 4, 2));
    await db.flush();
    const second = listFiles(path);
    expect(second.filter((f) => f.endsWith('.seg'))).toHaveLength(2);
    expect(second.filter((f) => f.endsWith('.ids'))).toHaveLength(2);
    expect(second).not.toEqual(first);
    expect(second.some((f) => f.includes('.tmp-'))).toBe(false);
    await db.close();
    const reopened = await Shoal.open({ path, threads: 1 });
    const c2 = reopened.getCollection('c');
    expect(await c2.count()).toBe(100);
    // A reload keeps the slots in use plus a little room, not the capacity growth left behind.
    await c2.load();
    const shards = c2.stats().shardDetails;
    expect(shards.length).toBeGreaterThan(0);
    for (const shard of shards) {
      const slotsUsed = shard.count; // no deletes in this collection: slots used = live ids
      expect(shard.capacity).toBe(slotsUsed + 64);
    }
    await reopened.close();
  });

  it('deleting a collection removes its files for good', async () => {
    const path = dir();
    let db = await Shoal.open({ path, threads: 1 });
    const col = await db.createCollection('gone', { dim: 2 });
    await col.add(['a'], [[1, 1]]);
    await db.flush();
    await db.deleteCollection('gone');
    expect(existsSync(join(path, 'collections', 'gone'))).toBe(false);
    await db.close();
    db = await Shoal.open({ path, threads: 1 });
    expect(db.listCollections()).toEqual([]);
    await db.close();
  });

  it('refuses a damaged manifest with CorruptionError and releases the directory', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    await db.createCollection('c', { dim: 2 });
    await db.close();
    writeFileSync(join(path, 'MANIFEST'), 'SHOAL-MANIFEST 1 deadbeef\n{"collections":[]}');
    await expect(Shoal.open({ path, threads: 1 })).rejects.toBeInstanceOf(CorruptionError);
    // Released: the lock can be taken again (LOCK itself stays; the OS lock is what counts).
    const unlock = lockDirectory(path);
    unlock();
  });
});

describe('one live process per directory', () => {
  it('refuses a second open in the same process', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    await expect(Shoal.open({ path, threads: 1 })).rejects.toBeInstanceOf(LockedError);
    await db.close();
    const again = await Shoal.open({ path, threads: 1 });
    await again.close();
  });

  it('refuses an open while another process holds it, and takes over once that process dies', async () => {
    const path = dir();
    const holder = spawn(...nodeCommand([new URL('../fixtures/hold-lock.mjs', import.meta.url).pathname, path]), {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await new Promise<void>((ready) => holder.stdout.once('data', () => ready()));
    const err = await Shoal.open({ path, threads: 1 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).details).toMatchObject({ pid: holder.pid });
    const exited = new Promise((done) => holder.once('exit', done));
    holder.kill('SIGKILL');
    await exited;
    const db = await Shoal.open({ path, threads: 1 }); // the stale lock is taken over
    await db.close();
  });
});

describe('ephemeral databases', () => {
  it('work in a temp directory and leave no files behind', async () => {
    const db = await Shoal.open({ threads: 1 });
    expect(db.ephemeral).toBe(true);
    const col = await db.createCollection('tmp', { dim: 3 });
    await col.add(['a', 'b'], [[1, 2, 3], [3, 2, 1]]);
    await db.flush();
    expect(existsSync(db.path)).toBe(true);
    await db.close();
    expect(existsSync(db.path)).toBe(false);
  });
});
