// The pure size rules behind reservations: glibc chunk sizes, visited lists, search scratch.
import { describe, expect, it } from 'vitest';

import { allocatorSlackBytes, chunkBytes, searchScratchBytes, visitedHeadroom, visitedListBytes } from '../../../src/budget/sizes.js';

const KiB = 1024;
const MMAP_THRESHOLD = 128 * KiB;

describe('chunkBytes', () => {
  it.each<[string, number, number]>([
    ['costs nothing for a request of 0 bytes', 0, 0],
    ['costs nothing for a negative request', -16, 0],
    ['costs the 32-byte minimum chunk for 1 byte', 1, 32],
    ['costs the minimum chunk for 24 bytes (24 + 8 = 32)', 24, 32],
    ['rounds 25 + 8 bytes up to 48', 25, 48],
    ['costs 48 bytes for 40 (40 + 8 = 48)', 40, 48],
    ['rounds 41 + 8 bytes up to 64', 41, 64],
    ['rounds 100 + 8 bytes up to 112', 100, 112],
    ['rounds 1000 + 8 bytes up to 1008', 1000, 1008],
    ['costs 4112 bytes for a 4 KiB request', 4 * KiB, 4112],
    ['rounds the largest request whose chunk stays below 128 KiB up to 131056', MMAP_THRESHOLD - 24, 131_056],
    ['costs a page-rounded mmap chunk minus 8 at exactly 128 KiB', MMAP_THRESHOLD, 135_160],
    ['costs an exact multiple of pages minus 8 when request + 16 is 8 bytes short of a page', 40 * 4096 - 24, 40 * 4096 - 8],
    ['adds a page when request + 16 is one byte past a page boundary', 40 * 4096 - 15, 41 * 4096 - 8],
    ['costs 1 MiB + 4 KiB - 8 for a 1 MiB request', 1024 * KiB, 1024 * KiB + 4096 - 8],
    ['costs 257 pages minus 8 for 1 MiB + 1', 1024 * KiB + 1, 257 * 4096 - 8],
  ])('%s', (_name, request, expected) => {
    expect(chunkBytes(request)).toBe(expected);
  });

  /**
   * What glibc 2.36 (x86-64) really charges, as usable size + 8 (the way native/accounting.cc
   * counts): the chunk is request2size(request) = max(32, roundUp16(request + 8)); an mmapped
   * one is roundUpPage(chunk + 8) and reports 16 bytes of header, so it costs that minus 8.
   * Checked against malloc/malloc_usable_size with M_MMAP_THRESHOLD fixed at 128 KiB.
   */
  function glibc(request: number, mmapped: boolean): number {
    if (request <= 0) return 0;
    const up = (n: number, to: number): number => (n % to === 0 ? n : n + to - (n % to));
    const chunk = Math.max(32, up(request + 8, 16));
    return mmapped ? up(chunk + 8, 4096) - 8 : chunk;
  }

  it.each<[string, number, number]>([
    ['small requests', 1, 4096],
    ['requests just below the mmap threshold whose chunk is still below it', MMAP_THRESHOLD - 4096, MMAP_THRESHOLD - 24],
  ])('matches glibc for every one of the %s (heap chunks)', (_name, from, to) => {
    const wrong: string[] = [];
    for (let request = from; request <= to; request++) {
      if (chunkBytes(request) !== glibc(request, false)) wrong.push(`${request}: ${chunkBytes(request)} != ${glibc(request, false)}`);
    }
    expect(wrong).toEqual([]);
  });

  it.each<[string, number, number]>([
    ['requests from the mmap threshold on', MMAP_THRESHOLD, MMAP_THRESHOLD + 3 * 4096],
    ['requests around a page boundary far above the threshold', 2048 * 4096 - 600, 2048 * 4096 + 600],
  ])('matches glibc for the %s (mmapped chunks)', (_name, from, to) => {
    const wrong: string[] = [];
    for (let request = from; request <= to; request++) {
      if (chunkBytes(request) !== glibc(request, true)) wrong.push(`${request}: ${chunkBytes(request)} != ${glibc(request, true)}`);
    }
    expect(wrong).toEqual([]);
  });

  // Regression: glibc maps roundUp16(request + 8) + 8 rounded to a page, one page more than
  // request + 16 rounded when request + 16 lands in the last 8 bytes of a page.
  it.each<[number]>([[40 * 4096 - 23], [40 * 4096 - 16], [2048 * 4096 - 20]])(
    'charges what glibc maps for an mmapped request of %i bytes whose request + 16 ends a page',
    (request) => {
      expect(chunkBytes(request)).toBe(glibc(request, true));
    },
  );

  // Regression: glibc compares the chunk size (roundUp16(request + 8)), not the request, with
  // M_MMAP_THRESHOLD, so requests of 128 KiB - 23 ... 128 KiB - 1 may be mmapped (135160 bytes).
  it.each<[number]>([[MMAP_THRESHOLD - 23], [MMAP_THRESHOLD - 8], [MMAP_THRESHOLD - 1]])(
    'charges at least the mmapped chunk for a %i-byte request whose chunk reaches the mmap threshold',
    (request) => {
      expect(chunkBytes(request)).toBeGreaterThanOrEqual(glibc(request, true));
    },
  );

  it.each<[string, number, number]>([
    // Up to the largest request whose chunk stays below the threshold (chunk = request + 8, rounded to 16).
    ['below the mmap threshold', 1, MMAP_THRESHOLD - 24],
    ['at and above the mmap threshold', MMAP_THRESHOLD, MMAP_THRESHOLD + 64 * KiB],
  ])('never charges less than the request plus its header %s, and never decreases', (_name, from, to) => {
    let previous = chunkBytes(from - 1);
    const wrong: string[] = [];
    for (let request = from; request <= to; request += 7) {
      const got = chunkBytes(request);
      if (got < request + 8) wrong.push(`${request}: ${got} < request + 8`);
      if (got < previous) wrong.push(`${request}: ${got} < ${previous} for a smaller request`);
      if (request < MMAP_THRESHOLD ? got % 16 !== 0 : (got + 8) % 4096 !== 0) wrong.push(`${request}: ${got} is not on the allocator's grid`);
      previous = got;
    }
    expect(wrong).toEqual([]);
  });
});

describe('visitedListBytes', () => {
  it.each<[string, number, number]>([
    ['costs only the 32-byte object for capacity 0', 0, 32],
    ['costs a minimum chunk plus the object for capacity 1', 1, 32 + 32],
    ['costs chunkBytes(200) + 32 for capacity 100', 100, 208 + 32],
    ['costs chunkBytes(2000) + 32 for capacity 1000', 1000, 2016 + 32],
    ['switches to an mmap chunk at 64 Ki slots (128 KiB)', 64 * KiB, 135_160 + 32],
    ['costs a page-rounded chunk for 100000 slots', 100_000, 49 * 4096 - 8 + 32],
  ])('%s', (_name, capacity, expected) => {
    expect(visitedListBytes(capacity)).toBe(expected);
    expect(visitedListBytes(capacity)).toBe(chunkBytes(2 * capacity) + 32);
  });
});

describe('visitedHeadroom', () => {
  const list = visitedListBytes(1000);

  it.each<[string, number, number, number]>([
    ['reserves a list for every thread beyond the first when none has searched', 0, 4, 3],
    ['counts a segment that has never searched as having one list', 0, 1, 0],
    ['reserves lists for the threads beyond the concurrent peak', 1, 4, 3],
    ['reserves one list when the peak is one short of the threads', 3, 4, 1],
    ['reserves nothing when the peak equals the threads', 4, 4, 0],
    ['reserves nothing when the peak exceeds the threads', 8, 4, 0],
    ['reserves nothing for zero threads', 0, 0, 0],
    ['reserves 255 lists for 256 threads and a fresh segment', 0, 256, 255],
  ])('%s (peak %i, threads %i, lists %i)', (_name, peak, threads, lists) => {
    expect(visitedHeadroom({ capacity: 1000, concurrentSearchesPeak: peak }, threads)).toBe(lists * list);
  });

  it.each<[number, number]>([
    [0, 4],
    [10, 4],
    [100_000, 8],
  ])('scales with visitedListBytes of the capacity (capacity %i, %i threads)', (capacity, threads) => {
    expect(visitedHeadroom({ capacity, concurrentSearchesPeak: 1 }, threads)).toBe((threads - 1) * visitedListBytes(capacity));
  });
});

describe('searchScratchBytes', () => {
  it.each<[string, number, number, number, number]>([
    ['uses ef when ef exceeds k', 100, 10, 16, 16 * 100 * 33 + 4096],
    ['uses k when k exceeds ef', 10, 50, 16, 16 * 50 * 33 + 4096],
    ['uses either when ef equals k', 64, 64, 8, 16 * 64 * 17 + 4096],
    ['costs the fixed 4 KiB plus one candidate row for ef = k = 1, M = 0', 1, 1, 0, 16 + 4096],
    ['costs only the fixed 4 KiB when ef and k are 0', 0, 0, 16, 4096],
    ['grows with M as 2M + 1 links', 200, 1, 48, 16 * 200 * 97 + 4096],
  ])('%s (ef %i, k %i, M %i)', (_name, ef, k, M, expected) => {
    expect(searchScratchBytes(ef, k, M)).toBe(expected);
  });
});

describe('allocatorSlackBytes', () => {
  const MiB = 1024 * 1024;
  it.each([
    ['a tiny limit gets the 1 MiB floor', 4 * MiB, MiB],
    ['1/32 of a mid-size limit', 512 * MiB, 16 * MiB],
    ['just below the cap', 2047 * MiB, Math.floor((2047 * MiB) / 32)],
    ['the 64 MiB cap for large limits', 100 * 1024 * MiB, 64 * MiB],
    ['the cap without a limit', Number.MAX_SAFE_INTEGER, 64 * MiB],
  ])('%s', (_name, limit, expected) => {
    expect(allocatorSlackBytes(limit)).toBe(expected);
  });
});
