/**
 * Which labels of a resident shard a filtered call may return: the `where` filter evaluated
 * over the shard's metadata columns, intersected with an id allow-list, restricted to live
 * labels. The result is a bitset over labels (bit l of word l >> 5) in a SharedArrayBuffer, so
 * every search task of the call reads it without a copy; the native search tests a bit per
 * visited node (native/filter_search.h).
 */
import type { CompiledWhere } from '../metadata/where.js';
import { liveBits, popcount } from '../metadata/where.js';
import type { Slot } from './shard-store.js';

export interface ShardFilter {
  readonly words: Uint32Array;
  /** Bits set: the records that match. */
  readonly count: number;
}

/** The shard's matching labels. `ids`: only these may match (null: any). */
export function shardFilter(slot: Slot, where: CompiledWhere | null, ids: readonly string[] | null): ShardFilter {
  const table = slot.residentIds();
  const live = liveBits(table);
  let words: Uint32Array;
  let count = 0;
  if (where !== null) {
    ({ words, count } = where.bits(slot.residentMeta(), live));
  } else {
    words = live;
    for (const w of live) if (w !== 0) count += popcount(w);
  }
  if (ids !== null) {
    const allowed = new Uint32Array(words.length);
    for (const id of ids) {
      const label = table.labelOf(id);
      if (label !== undefined) allowed[label >>> 5] = ((allowed[label >>> 5] as number) | (1 << (label & 31))) >>> 0;
    }
    count = 0;
    for (let w = 0; w < words.length; w++) {
      const word = ((words[w] as number) & (allowed[w] as number)) >>> 0;
      words[w] = word;
      if (word !== 0) count += popcount(word);
    }
  }
  const shared = new Uint32Array(new SharedArrayBuffer(Math.max(4, words.byteLength)));
  shared.set(words);
  return { words: shared, count };
}

/** The labels a filter holds, ascending. */
export function labelsOf(filter: ShardFilter): Uint32Array {
  const out = new Uint32Array(filter.count);
  let n = 0;
  filter.words.forEach((word, w) => {
    for (let b = 0; word !== 0 && b < 32; b++) {
      if ((word & (1 << b)) !== 0) out[n++] = w * 32 + b;
    }
  });
  return out;
}
