/**
 * The catalog: what the manifest says, kept in memory and written whole. It is the one place
 * that holds the persisted description of collections (settings, shard file generations, the
 * LSNs replay needs, failures) and the hot set for warm start. Callers change records, then
 * commit(); commits are serialised and each writes a snapshot taken when it runs, so a later
 * commit never writes older state than an earlier one.
 */
import type { CollectionRecord, HotShard, Manifest, ShardRecord } from '../storage/manifest.js';
import { writeManifest } from '../storage/manifest.js';

export class Catalog {
  readonly #root: string;
  #records = new Map<string, CollectionRecord>();
  #hot: readonly HotShard[];
  #writes: Promise<unknown> = Promise.resolve();

  constructor(root: string, manifest: Manifest) {
    this.#root = root;
    for (const r of manifest.collections) this.#records.set(r.name, r);
    this.#hot = manifest.hot ?? [];
  }

  records(): CollectionRecord[] {
    return [...this.#records.values()];
  }

  get(name: string): CollectionRecord | undefined {
    return this.#records.get(name);
  }

  get hot(): readonly HotShard[] {
    return this.#hot;
  }

  set hot(hot: readonly HotShard[]) {
    this.#hot = hot;
  }

  add(record: CollectionRecord): void {
    this.#records.set(record.name, record);
  }

  remove(name: string): void {
    this.#records.delete(name);
  }

  update(name: string, patch: Partial<Omit<CollectionRecord, 'name' | 'shards'>>): void {
    const r = this.#records.get(name);
    if (r !== undefined) this.#records.set(name, { ...r, ...patch });
  }

  setShard(name: string, index: number, shard: ShardRecord): void {
    const r = this.#records.get(name);
    if (r === undefined) return;
    this.#records.set(name, { ...r, shards: r.shards.map((s, i) => (i === index ? shard : s)) });
  }

  /** Writes the manifest as the records are when this commit's turn comes. @throws {IoError} */
  commit(): Promise<void> {
    const write = async (): Promise<void> => writeManifest(this.#root, { collections: this.records(), hot: this.#hot });
    const run = this.#writes.then(write, write);
    this.#writes = run.catch(() => undefined);
    return run;
  }
}
