/**
 * How many bytes to reserve before each kind of allocation, and what a resident shard holds.
 * Every figure is the native planning estimate (an upper bound, native/memory_estimate.h) or
 * the IdTable's own prediction, so a reservation always covers what the operation allocates.
 */
import { IdTable } from '../ids/id-table.js';
import { native, type SegmentFileSummary, type SegmentInfo } from '../native/binding.js';

/**
 * What allocating `request` bytes costs in glibc chunks, as native/accounting.cc charges it
 * (the same rule as Chunk() in native/memory_estimate.cc): request + 8 rounded up to 16, at
 * least 32; at or above the 128 KiB mmap threshold, the mmapped price (that + 8, rounded up to
 * a page, less the 8 bytes accounting.cc does not see), an upper bound either way.
 */
export function chunkBytes(request: number): number {
  if (request <= 0) return 0;
  const heap = Math.max(32, Math.ceil((request + 8) / 16) * 16);
  if (heap >= 128 * 1024) return Math.ceil((heap + 8) / 4096) * 4096 - 8;
  return heap;
}

const MiB = 1024 * 1024;

/**
 * Free heap the allocator may keep mapped after segments are freed before it is returned to
 * the OS (process-wide, native/accounting.h; maintain() applies it to every free byte,
 * native/allocator.h): 1/32 of the limit, from 1 to 64 MiB. Between trims RSS may exceed what
 * the budget counts by this much, while a load that follows an eviction reuses the pages the
 * eviction freed instead of faulting fresh ones in. An explicit unload returns everything.
 */
export function allocatorSlackBytes(limitBytes: number): number {
  return Math.min(64 * MiB, Math.max(MiB, Math.floor(limitBytes / 32)));
}

/** One visited list: 2 bytes per slot plus its object. */
export function visitedListBytes(capacity: number): number {
  return chunkBytes(2 * capacity) + 32;
}

/**
 * Visited lists a segment will still allocate when `threads` searches run on it at once
 * (hnswlib keeps one per concurrent search, for good): reserved ahead, so searches never
 * allocate beyond the budget.
 */
export function visitedHeadroom(info: Pick<SegmentInfo, 'capacity' | 'concurrentSearchesPeak'>, threads: number): number {
  return Math.max(0, threads - Math.max(1, info.concurrentSearchesPeak)) * visitedListBytes(info.capacity);
}

/** Scratch one running search allocates (its candidate queues), an upper bound. */
export function searchScratchBytes(ef: number, k: number, M: number): number {
  return 16 * Math.max(ef, k) * (2 * M + 1) + 4096;
}

/** To create an empty segment of `capacity` slots and an empty id table. */
export function createBytes(dim: number, M: number, capacity: number, threads: number): number {
  return native.estimateBytes({ dim, M, capacity, count: 0, concurrentSearches: threads }).totalBytes + new IdTable().bytes();
}

/**
 * Slots a shard is loaded with: those in use plus 1/8 (at least 64) for the next writes, not
 * the capacity it grew to before it was saved (growth leaves up to a third unused).
 */
export function loadCapacity(slotsUsed: number): number {
  return slotsUsed + Math.max(64, Math.ceil(slotsUsed / 8));
}

/** Capacity after growing to hold `needed` slots from `capacity`: by half again, at least what is needed. */
export function grownCapacity(capacity: number, needed: number, initial: number): number {
  let next = Math.max(capacity, initial);
  while (next < needed) next = Math.ceil(next * 1.5);
  return next;
}

/**
 * To load a shard from its files (with loadCapacity slots). A loaded segment has no label lock
 * table until its first write, which reserves it then (addBytes, deleteBytes).
 */
export function loadBytes(summary: SegmentFileSummary, ids: { count: number; nextLabel: number; idBytes: number }, threads: number): number {
  const e = native.estimateBytes({
    dim: summary.dim,
    M: summary.M,
    capacity: loadCapacity(summary.count + summary.deletedCount),
    count: summary.count + summary.deletedCount,
    deletedCount: summary.deletedCount,
    concurrentSearches: threads,
  });
  return e.totalBytes - e.labelLockBytes + IdTable.bytesWhenLoaded(ids.count, ids.nextLabel, ids.idBytes);
}

/**
 * To add `fresh` ids of `idBytes` bytes (capacity already sufficient), with the label lock
 * table if this is the segment's first write since it was loaded.
 */
export function addBytes(info: SegmentInfo, ids: IdTable, fresh: number, idBytes: number): number {
  const input = { dim: info.dim, M: info.M, capacity: info.capacity, deletedCount: 0 };
  const before = native.estimateBytes({ ...input, count: info.slotsUsed }).elementBytes;
  // Fresh ids fill deleted slots first, which allocate nothing new.
  const after = native.estimateBytes({ ...input, count: Math.min(info.capacity, info.slotsUsed + fresh) }).elementBytes;
  const insertScratch = searchScratchBytes(info.efConstruction, 1, info.M);
  return after - before + insertScratch + info.labelLockBytes + (ids.bytesAfterAdding(fresh, idBytes) - ids.bytes());
}

/**
 * To delete `count` labels: hnswlib records deleted slots in a hash set (a node each, and its
 * buckets), and a first write allocates the label lock table.
 */
export function deleteBytes(info: Pick<SegmentInfo, 'labelLockBytes'>, count: number): number {
  return 64 * count + 4096 + info.labelLockBytes;
}

/** To resize to `capacity`: the new blocks while the old ones still exist. */
export function growBytes(info: SegmentInfo, capacity: number, threads: number): number {
  const e = native.estimateBytes({ dim: info.dim, M: info.M, capacity, count: info.slotsUsed, concurrentSearches: threads });
  return e.capacityBytes + e.visitedBytes;
}
