/**
 * Native accounting on the main thread, in one place: a resident shard's exact bytes (the
 * addon's allocator-chunk count of its segment plus its id table and metadata columns), the visited-list headroom
 * its searches may still allocate, the allocator slack that follows the limit, and the share
 * of native memory reported to V8 so its GC heuristics see what JS objects keep alive.
 */
import { allocatorSlackBytes, visitedHeadroom } from '../budget/sizes.js';
import type { IdTable } from '../ids/id-table.js';
import type { MetadataTable } from '../metadata/table.js';
import { native, type AllocatorState, type SegmentHandle } from '../native/binding.js';

export class NativeAccounting {
  readonly #threads: number;
  #perKey = new Map<string, number>();
  #total = 0;
  #reported = 0;
  #slackBytes: number;

  constructor(threads: number) {
    this.#threads = threads;
    this.#slackBytes = allocatorSlackBytes(Number.MAX_SAFE_INTEGER);
  }

  /** Free heap the allocator may keep mapped after a free, as a function of the limit. */
  followLimit(limitBytes: number): void {
    this.#slackBytes = allocatorSlackBytes(limitBytes);
    native.setAllocatorSlack(this.#slackBytes);
  }

  /**
   * Returns the allocator's free memory to the OS once more than the slack was freed since
   * the last trim, whoever freed it (segments, pool workers' batch and result buffers, the
   * addon's scratch): the accounting.cc trim after a segment free sees segment bytes only.
   * Called from maintenance with the slack, and with 0 after an explicit unload or delete.
   * Returns whether it trimmed.
   */
  trimAllocator(slackBytes = this.#slackBytes): boolean {
    return native.trimAllocatorBeyond(slackBytes);
  }

  allocatorState(): AllocatorState | null {
    return native.allocatorState();
  }

  /** Records a shard's native bytes now (0 when freed); returns its exact bytes and headroom. */
  measure(key: string, handle: SegmentHandle | null, ids: IdTable | null, meta: MetadataTable | null = null): { exact: number; headroom: number } {
    const segment = handle === null ? 0 : native.segmentBytes(handle);
    this.#track(key, segment);
    if (handle === null || ids === null) return { exact: 0, headroom: 0 };
    return { exact: segment + ids.bytes() + (meta?.bytes() ?? 0), headroom: visitedHeadroom(native.segmentInfo(handle), this.#threads) };
  }

  get reportedToV8Bytes(): number {
    return this.#reported;
  }

  totalNativeBytes(): number {
    return native.totalBytes();
  }

  /** Id tables and metadata are typed arrays, which V8 counts already: only segments are reported. */
  #track(key: string, bytes: number): void {
    this.#total += bytes - (this.#perKey.get(key) ?? 0);
    if (bytes > 0) this.#perKey.set(key, bytes);
    else this.#perKey.delete(key);
    const delta = this.#total - this.#reported;
    if (delta === 0) return;
    native.adjustExternalMemory(delta);
    this.#reported += delta;
  }
}
