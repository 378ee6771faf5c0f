// Recovery of the write-ahead log driven directly: records are appended, the files damaged on
// disk, and a reopen must replay every undamaged record once, in LSN order, and report (and
// keep) exactly the damaged bytes.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { Wal, type Durability, type TruncatedTail } from '../../../src/storage/wal.js';
import { decodeRecord, encodeRecord, encodeRecordParts, type WalRecord } from '../../../src/storage/wal-record.js';
import { tempDir } from '../../support/db.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function dir(): string {
  const d = tempDir('shoal-wal-');
  cleanups.push(d.remove);
  return d.path;
}

/** The record appended as the `n`th write of a test: its id and vector encode `n`. */
function write(n: number): Omit<WalRecord, 'lsn'> {
  return { op: 'upsert', collection: 'c', ids: [`w${n}`], vectors: new Float32Array([n, -n]), dim: 2 };
}

interface Opened {
  readonly wal: Wal;
  readonly replayed: WalRecord[];
  readonly tails: TruncatedTail[];
}

async function open(root: string, floor = 0, durability: Durability = 'fsync'): Promise<Opened> {
  const replayed: WalRecord[] = [];
  const tails: TruncatedTail[] = [];
  const wal = await Wal.open(root, durability, floor, async (r) => void replayed.push(r), (t) => void tails.push(t));
  return { wal, replayed, tails };
}

/** Appends writes `from` to `to` (inclusive), waits for them to be durable, returns their LSNs. */
async function appendAll(wal: Wal, from: number, to: number): Promise<number[]> {
  const lsns: number[] = [];
  const durable: Promise<void>[] = [];
  for (let n = from; n <= to; n++) {
    const a = wal.append(write(n));
    lsns.push(a.lsn);
    durable.push(a.durable);
  }
  await Promise.all(durable);
  return lsns;
}

/** One session per entry of `sessions` (each open starts a new file); returns every LSN written. */
async function writeSessions(root: string, sessions: readonly number[]): Promise<number[]> {
  const lsns: number[] = [];
  let n = 0;
  for (const count of sessions) {
    const { wal } = await open(root);
    lsns.push(...(await appendAll(wal, n + 1, n + count)));
    n += count;
    await wal.close();
  }
  return lsns;
}

/** The log files holding records, oldest first. */
function dataFiles(root: string): string[] {
  const wal = join(root, 'wal');
  return readdirSync(wal)
    .filter((f) => /^\d{16}\.log$/.test(f))
    .sort()
    .map((f) => join(wal, f))
    .filter((f) => statSync(f).size > 0);
}

/** Each record's offset and length in a file. */
function spans(file: string): { offset: number; length: number; lsn: number }[] {
  const buf = readFileSync(file);
  const out: { offset: number; length: number; lsn: number }[] = [];
  for (let at = 0; ; ) {
    const d = decodeRecord(buf, at);
    if (d.kind !== 'record') return out;
    out.push({ offset: at, length: d.next - at, lsn: d.record.lsn });
    at = d.next;
  }
}

/** Flips one bit of the byte `at` bytes into the record `index` of `file`; returns its span. */
function flip(file: string, index: number, at: number): { offset: number; length: number; lsn: number } {
  const span = spans(file)[index];
  if (span === undefined) throw new Error(`no record ${index} in ${file}`);
  const buf = readFileSync(file);
  buf[span.offset + at] = (buf[span.offset + at] as number) ^ 0x10;
  writeFileSync(file, buf);
  return span;
}

function ids(records: readonly WalRecord[]): string[] {
  return records.map((r) => r.ids[0] as string);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Wal recovery from damage in a log file that is not the newest', () => {
  it('loses only a damaged last record of an older file and replays every record of the later file', async () => {
    const root = dir();
    const written = await writeSessions(root, [5, 5]);
    expect(written).toEqual(range(1, 10));
    const [older, later] = dataFiles(root) as [string, string];
    const laterBytes = readFileSync(later);
    const original = readFileSync(older);
    const damaged = flip(older, 4, 40); // inside the vector of write 5
    const evidence = readFileSync(older).subarray(damaged.offset);

    const { wal, replayed, tails } = await open(root);
    expect(replayed.map((r) => r.lsn)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10]);
    expect(ids(replayed)).toEqual(['w1', 'w2', 'w3', 'w4', 'w6', 'w7', 'w8', 'w9', 'w10']);
    expect(Array.from(replayed[8]?.vectors ?? [])).toEqual([10, -10]);
    expect(tails).toHaveLength(1);
    const tail = tails[0] as TruncatedTail;
    expect(tail.file).toBe(older);
    expect(tail.offset).toBe(damaged.offset);
    expect(tail.bytes).toBe(damaged.length);
    expect(tail.why).toMatch(/checksum/);
    expect(tail.lostLsns).toEqual({ after: 4, before: 6 });
    // The damaged bytes are kept, byte for byte; the older file keeps its undamaged records.
    expect(readFileSync(tail.keptAs).equals(evidence)).toBe(true);
    expect(readFileSync(older).equals(original.subarray(0, damaged.offset))).toBe(true);
    // The later file is read where it is, unchanged.
    expect(readFileSync(later).equals(laterBytes)).toBe(true);
    await wal.close();

    // The damage was cut out once: a second recovery replays the same records and reports nothing.
    const again = await open(root);
    expect(again.replayed.map((r) => r.lsn)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10]);
    expect(again.tails).toEqual([]);
    await again.wal.close();
  });

  it.each([
    ['its payload (checksum)', 40, /checksum/],
    ['its magic', 1, /magic/],
    ['its length field', 6, /cut short|checksum/],
  ])('cuts a damaged record out of the middle of an older file (a bit flipped in %s) and replays the rest', async (_what, at, why) => {
    const root = dir();
    await writeSessions(root, [5, 5]);
    const [older, later] = dataFiles(root) as [string, string];
    const laterBytes = readFileSync(later);
    const original = readFileSync(older);
    const damaged = flip(older, 2, at);
    const evidence = readFileSync(older).subarray(damaged.offset, damaged.offset + damaged.length);

    const { wal, replayed, tails } = await open(root);
    expect(replayed.map((r) => r.lsn)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
    expect(ids(replayed)).toEqual(['w1', 'w2', 'w4', 'w5', 'w6', 'w7', 'w8', 'w9', 'w10']);
    expect(tails).toHaveLength(1);
    const tail = tails[0] as TruncatedTail;
    expect(tail).toMatchObject({ file: older, offset: damaged.offset, bytes: damaged.length, lostLsns: { after: 2, before: 4 } });
    expect(tail.why).toMatch(why);
    expect(readFileSync(tail.keptAs).equals(evidence)).toBe(true);
    // The older file now holds exactly its undamaged records, so they stay in the log until saved.
    const kept = Buffer.concat([original.subarray(0, damaged.offset), original.subarray(damaged.offset + damaged.length)]);
    expect(readFileSync(older).equals(kept)).toBe(true);
    expect(readFileSync(later).equals(laterBytes)).toBe(true);
    await wal.close();

    const again = await open(root);
    expect(again.replayed.map((r) => r.lsn)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
    expect(again.tails).toEqual([]);
    await again.wal.close();
  });

  it('reports two separate damaged regions of one file separately, and a damaged whole file loses only itself', async () => {
    const root = dir();
    await writeSessions(root, [6, 3, 4]);
    const [first, middle] = dataFiles(root) as [string, string, string];
    const b = flip(first, 4, 40); // the later one first: spans() stops at damage
    const a = flip(first, 1, 40);
    writeFileSync(middle, Buffer.alloc(statSync(middle).size, 0xee)); // nothing left of writes 7 to 9

    const { wal, replayed, tails } = await open(root);
    expect(ids(replayed)).toEqual(['w1', 'w3', 'w4', 'w6', 'w10', 'w11', 'w12', 'w13']);
    expect(tails.map((t) => [t.file, t.offset, t.bytes])).toEqual([
      [first, a.offset, a.length],
      [first, b.offset, b.length],
      [middle, 0, statSync(tails[2]?.keptAs as string).size],
    ]);
    expect(tails.map((t) => t.lostLsns)).toEqual([{ after: 1, before: 3 }, { after: 4, before: 6 }, { after: 6, before: 10 }]);
    for (const t of tails) expect(existsSync(t.keptAs)).toBe(true);
    await wal.close();
  });
});

describe('Wal recovery from a damaged tail of the newest file', () => {
  it.each([
    ['a torn final record', (file: string) => truncateSync(file, statSync(file).size - 7), 4],
    ['a bit flipped in the final record', (file: string) => void flip(file, 4, 30), 4],
    ['garbage after the last record', (file: string) => writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('half a record')])), 5],
  ])('cuts off %s, keeps its bytes aside and replays every earlier record', async (_what, damage, survivors) => {
    const root = dir();
    await writeSessions(root, [3, 5]);
    const newest = dataFiles(root)[1] as string;
    const cut = survivors === 5 ? statSync(newest).size : (spans(newest)[4]?.offset as number);
    damage(newest);
    const evidence = readFileSync(newest).subarray(cut);

    const { wal, replayed, tails } = await open(root);
    expect(replayed.map((r) => r.lsn)).toEqual(range(1, 3 + survivors));
    expect(tails).toHaveLength(1);
    const tail = tails[0] as TruncatedTail;
    expect(tail).toMatchObject({ file: newest, offset: cut, bytes: evidence.length });
    expect(tail.lostLsns).toBeUndefined();
    expect(tail.keptAs.startsWith(`${newest}.tail-`)).toBe(true);
    expect(readFileSync(tail.keptAs).equals(evidence)).toBe(true);
    expect(statSync(newest).size).toBe(cut);
    await wal.close();

    const again = await open(root);
    expect(again.replayed.map((r) => r.lsn)).toEqual(range(1, 3 + survivors));
    expect(again.tails).toEqual([]);
    await again.wal.close();
  });
});

describe('LSNs after a recovery from damage', () => {
  it('appends above every replayed LSN, in a file of its own, and they are replayed in order next time', async () => {
    const root = dir();
    await writeSessions(root, [5, 5]);
    const [older] = dataFiles(root) as [string];
    flip(older, 4, 40);
    flip(older, 1, 40);

    const first = await open(root);
    const seen = first.replayed.map((r) => r.lsn);
    const next = await appendAll(first.wal, 11, 13);
    expect(Math.min(...next)).toBeGreaterThan(Math.max(...seen));
    expect(next).toEqual([11, 12, 13]);
    await first.wal.close();

    const second = await open(root);
    expect(ids(second.replayed)).toEqual(['w1', 'w3', 'w4', 'w6', 'w7', 'w8', 'w9', 'w10', 'w11', 'w12', 'w13']);
    expect(second.tails).toEqual([]);
    await second.wal.close();
  });

  it('appends above the floor when it is above every record in the log', async () => {
    const root = dir();
    await writeSessions(root, [4]);
    flip(dataFiles(root)[0] as string, 1, 40);
    const { wal, replayed } = await open(root, 50);
    expect(replayed.map((r) => r.lsn)).toEqual([1, 3, 4]); // the floor does not filter: shards do
    expect(wal.append(write(5)).lsn).toBe(51);
    await wal.close();
  });

  it('after a cut-off tail of the newest file, continues above the last record it replayed', async () => {
    const root = dir();
    await writeSessions(root, [4, 4]);
    const newest = dataFiles(root)[1] as string;
    flip(newest, 3, 40);
    const { wal, replayed } = await open(root);
    expect(replayed.map((r) => r.lsn)).toEqual(range(1, 7));
    const [lsn] = await appendAll(wal, 9, 9);
    expect(lsn).toBe(8);
    await wal.close();
    const again = await open(root);
    expect(ids(again.replayed)).toEqual(['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w9']);
    await again.wal.close();
  });

  it('after a cut-off tail, continues above the name of a file that a rotation named above its records', async () => {
    // A rotation names the next file from the last LSN handed out, and records queued while the
    // file filled go into it: 0000000000000006.log may start with LSN 4.
    const root = dir();
    mkdirSync(join(root, 'wal'));
    const file = (first: number, lsns: number[]): string => {
      const path = join(root, 'wal', `${String(first).padStart(16, '0')}.log`);
      writeFileSync(path, Buffer.concat(lsns.map((lsn) => encodeRecord({ ...write(lsn), lsn }))));
      return path;
    };
    file(1, [1, 2, 3]);
    const rotated = file(6, [4, 5]);
    truncateSync(rotated, statSync(rotated).size - 5); // write 5 torn
    const { wal, replayed, tails } = await open(root);
    expect(replayed.map((r) => r.lsn)).toEqual([1, 2, 3, 4]);
    expect(tails).toHaveLength(1);
    const [lsn] = await appendAll(wal, 6, 6);
    expect(lsn).toBeGreaterThanOrEqual(6); // a file named 5 would sort before LSN 4's file
    await wal.close();
    const again = await open(root);
    expect(ids(again.replayed)).toEqual(['w1', 'w2', 'w3', 'w4', 'w6']);
    expect(again.tails).toEqual([]);
    await again.wal.close();
  });
});

describe('Wal.failed', () => {
  it('is false while the log works and for an unlogged database', async () => {
    const root = dir();
    const logged = await open(root);
    await appendAll(logged.wal, 1, 2);
    expect(logged.wal.failed).toBe(false);
    await logged.wal.close();
    const unlogged = await open(root, 0, 'unlogged');
    unlogged.wal.append(write(3));
    expect(unlogged.wal.failed).toBe(false);
    await unlogged.wal.close();
  });

  it('turns true once a write fails, and every later append is refused', async () => {
    const root = dir();
    const { wal } = await open(root);
    await appendAll(wal, 1, 1);
    await wal.close(); // the file handle is gone: the next write fails as a disk error would
    const a = wal.append(write(2));
    await expect(a.durable).rejects.toThrow(/write-ahead log .* failed/);
    expect(wal.failed).toBe(true);
    await expect(wal.append(write(3)).durable).rejects.toThrow(/reopen the database/);
    await expect(wal.durable(a.lsn)).rejects.toThrow(/reopen the database/);
  });

  it('turns true when the next file cannot be created, and appends are refused instead of queued forever', async () => {
    const root = dir();
    const { wal } = await open(root, 0, 'none');
    // 65 records of 1 MiB and a small one, queued at once: one group write (LSNs 1 to 66), past
    // the 64 MiB rotation size, so the next file is named 67.
    const big: Omit<WalRecord, 'lsn'> = { op: 'upsert', collection: 'c', ids: ['big'], vectors: new Float32Array(2 ** 18), dim: 2 ** 18 };
    const lsns = Array.from({ length: 65 }, () => wal.append(big));
    lsns.push(wal.append(write(0)));
    expect(lsns[65]?.lsn).toBe(66);
    // Where the rotation's file would go, a directory: creating the file fails.
    mkdirSync(join(root, 'wal', `${String(67).padStart(16, '0')}.log`));
    await Promise.all(lsns.map((a) => a.durable));
    await wal.removeFlushed(0); // file operations run in order: the rotation was tried before this
    const after = wal.append(write(1)).durable.then(
      () => 'written',
      (err: Error) => err.message,
    );
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still pending'), 10_000)));
    const outcome = await Promise.race([after, hang]);
    clearTimeout(timer);
    expect(outcome).toMatch(/cannot create log file.*reopen the database/);
    expect(wal.failed).toBe(true);
    await wal.close();
  });
});

describe('encodeRecord', () => {
  it('round-trips through decodeRecord', () => {
    const r: WalRecord = { lsn: 7, op: 'delete', collection: 'docs', ids: ['a', 'bé'], vectors: new Float32Array(0), dim: 0 };
    const d = decodeRecord(encodeRecord(r), 0);
    expect(d.kind).toBe('record');
    if (d.kind === 'record') expect(d.record).toEqual(r);
  });

  it('in parts: the vectors are a view of the record\'s own memory, and the parts make the same record', () => {
    const vectors = Float32Array.of(1, 2, 3, 4);
    const r: WalRecord = { lsn: 9, op: 'add', collection: 'c', ids: ['x', 'y'], vectors, dim: 2 };
    const [head, body, tail] = encodeRecordParts(r);
    expect(body?.buffer).toBe(vectors.buffer);
    expect(Buffer.concat([head as Buffer, body as Buffer, tail as Buffer]).equals(encodeRecord(r))).toBe(true);
    const d = decodeRecord(Buffer.concat([head as Buffer, body as Buffer, tail as Buffer]), 0);
    expect(d.kind).toBe('record');
    if (d.kind === 'record') expect(d.record).toEqual(r);
  });

  it('round-trips metadata on adds and meta records exactly', () => {
    const metadatas = [{ n: 0.1 + 0.2, s: 'é\u2028"', tags: ['x', ''], ok: false }, {}];
    for (const r of [
      { lsn: 8, op: 'add', collection: 'c', ids: ['a', 'b'], vectors: new Float32Array([1, 2, 3, 4]), dim: 2, metadatas },
      { lsn: 9, op: 'meta', collection: 'c', ids: ['a', 'b'], vectors: new Float32Array(0), dim: 0, metadatas },
    ] as WalRecord[]) {
      const d = decodeRecord(encodeRecord(r), 0);
      expect(d.kind).toBe('record');
      if (d.kind === 'record') expect(d.record).toEqual(r);
    }
  });

  it('reads a record without metadata as before: no metadatas field', () => {
    const d = decodeRecord(encodeRecord({ lsn: 3, op: 'upsert', collection: 'c', ids: ['a'], vectors: new Float32Array([1, 2]), dim: 2 }), 0);
    expect(d.kind === 'record' && !('metadatas' in d.record)).toBe(true);
  });

  it('treats a metadata section that does not match its ids as damage', () => {
    const good = encodeRecord({ lsn: 4, op: 'meta', collection: 'c', ids: ['a', 'b'], vectors: new Float32Array(0), dim: 0, metadatas: [{ x: 1 }] });
    expect(decodeRecord(good, 0)).toMatchObject({ kind: 'bad', why: 'record metadata does not match its ids' });
  });
});
