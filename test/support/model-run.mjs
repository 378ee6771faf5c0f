// Model-based concurrent test of a Shoal database (issue 12). Random clients, drawn from a seeded
// PRNG, query, add, upsert, delete, get, unload, load, reconfigure the limit (shrink and grow),
// delete and re-create collections and flush, over a budget too small for every collection at
// once; a JS model says what may be observed. Plain JS over the built package (dist/), so the
// suite (test/integration/model.test.ts) and the soak script (scripts/model-soak.mjs) run it in a
// child process, where a deadlock cannot keep anything alive.
//
// The model is exact under concurrency because writes to one id never overlap: a client locks
// the ids it writes (per collection incarnation) until its call settles. Per id it keeps the
// acknowledged value and the value of the write in flight, if any. A read may observe, per id,
// the acknowledged value at its start, the value of a write in flight at its start, or the value
// of any write that starts while it runs; nothing else. Values are global serial numbers whose
// vectors are distinct, so a vector identifies the write that stored it, and ghost data from a
// deleted incarnation of a name is caught.
//
// Invariants (each breach is a violation with its context):
//  - no hang: every call settles within boundMs;
//  - budget: at every sample (each 'loaded'/'evicted' event and after each call),
//    usedBytes <= the limit in force and overshoots == 0. The limit in force is the configured one,
//    or, while a configure() runs, the larger of the old and new limits (a shrink evicts first);
//    outside a configure, also usedBytes <= stats().limitBytes and limitBytes == the configured;
//  - results: query ids are live ids of that collection with the distance of a value they may
//    hold (and inside the filter); get returns a value the id may hold;
//  - errors: only the typed kinds the model allows (BudgetExceededError anywhere, NotFoundError
//    for a collection being deleted or an id that may be absent, AlreadyExistsError where the
//    model has the id or name); any other rejection (SHOAL_INTERNAL, SHOAL_CLOSED, ...) is one;
//  - quiescent ledger: after the clients, used == resident + reserved, resident == native + id tables,
//    and the per-collection bytes (which include kept write headroom) lie between resident and used;
//  - durability: after close and reopen, the collections are the model's, every acknowledged id
//    is there with its exact vector, and no other id is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { mulberry32 } from '../../bench/lib/rng.mjs';
import { Shoal } from '../../dist/index.js';
import { settleWithin } from './settle.mjs';

const WEIGHTS = {
  query: 22, get: 14, add: 16, upsert: 10, delete: 8, unload: 6, load: 5, configure: 4, recreate: 4, flush: 3, createExisting: 1,
};

export async function runModel({
  seed,
  ops = 400,
  clients = 4,
  dir,
  names = 4,
  idsPerCollection = 1500,
  dim = 16,
  boundMs = 20_000,
  durability = 'none',
  threads = 2,
  without = [],
}) {
  const rand = mulberry32(seed);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  /** Up to n distinct elements of list, drawn at random. */
  const sampleOf = (list, n) => {
    const chosen = new Set();
    for (let tries = 0; chosen.size < Math.min(n, list.length) && tries < 4 * n; tries++) chosen.add(pick(list));
    return [...chosen];
  };
  const path = dir ?? mkdtempSync(join(tmpdir(), 'shoal-model-'));
  const violations = [];
  const counts = {};
  const outcomes = {};
  const budgetSamples = [];
  const tally = (what) => (outcomes[what] = (outcomes[what] ?? 0) + 1);
  let samples = 0;
  let peakRatio = 0;
  const violation = (kind, label, detail = {}) => {
    if (violations.length < 200) violations.push({ kind, label, ...detail });
  };

  // ---- values: serial number -> vector
  const vectorsOf = new Map();
  let nextValue = 1;
  const newValue = () => {
    const v = nextValue++;
    const next = mulberry32(seed * 1_000_003 + v);
    vectorsOf.set(v, Float32Array.from({ length: dim }, () => next() * 2 - 1));
    return v;
  };
  const idPool = Array.from({ length: idsPerCollection }, (_, i) => `id${i}`);

  // ---- model of collections: one incarnation per createCollection
  const current = new Map(); // name -> inc | null
  const byObject = new Map(); // Collection -> inc
  const pendingNew = new Map(); // name -> inc whose createCollection is in flight
  const recreating = new Set();
  let incSerial = 0;
  const makeInc = (name, shards) => ({
    serial: ++incSerial, name, shards,
    ids: new Map(idPool.map((id) => [id, { acked: null, pending: undefined }])),
    locked: new Set(), openReads: new Set(), deleting: false, deleted: false,
  });
  const shardsOf = (name) => 1 + (Number(name.slice(1)) % 2);
  const collectionNames = Array.from({ length: names }, (_, i) => `c${i}`);

  // ---- the budget
  let limit = 0;
  let configuring = null; // { from, to } while a configure() runs
  let db = null;
  let open = false;

  const sample = (where) => {
    if (!open) return;
    let s;
    try {
      s = db.stats();
    } catch (err) {
      violation('stats threw', where, { error: String(err) });
      return;
    }
    samples++;
    const bound = configuring === null ? limit : Math.max(configuring.from, configuring.to);
    peakRatio = Math.max(peakRatio, s.usedBytes / bound);
    if (s.usedBytes > bound) violation('over budget', where, { usedBytes: s.usedBytes, bound, limitBytes: s.limitBytes, configuring });
    if (s.overshoots !== 0) violation('overshoot', where, { overshoots: s.overshoots });
    if (s.usedBytes < 0 || s.residentBytes < 0 || s.reservedBytes < 0) violation('negative bytes', where, { used: s.usedBytes, resident: s.residentBytes, reserved: s.reservedBytes });
    if (configuring === null) {
      if (s.limitBytes !== limit) violation('limit differs', where, { limitBytes: s.limitBytes, configured: limit });
      if (s.usedBytes > s.limitBytes) violation('over own limit', where, { usedBytes: s.usedBytes, limitBytes: s.limitBytes });
    }
  };

  /** Runs a call with the hang bound; returns { ok, value } or { error } or { hang }. */
  const call = async (label, fn) => {
    try {
      const value = await settleWithin(Promise.resolve().then(fn), boundMs, label);
      tally('ok');
      return { ok: true, value };
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('hang: ')) {
        violation('hang', label, { message: error.message });
        return { hang: true };
      }
      tally(error?.name ?? 'thrown');
      if (error?.name === 'BudgetExceededError' && budgetSamples.length < 6) budgetSamples.push(`${label}: ${String(error.message).slice(0, 200)}`);
      return { error };
    } finally {
      sample(`after ${label}`);
    }
  };
  const kind = (error) => (error && typeof error === 'object' ? `${error.name}/${error.code}` : String(error));
  const is = (error, name) => error && typeof error === 'object' && error.name === name;
  const unexpected = (label, error, detail = {}) => violation('unexpected error', label, { error: kind(error), message: String(error?.message).slice(0, 300), ...detail });
  const goneOrGoing = (inc) => inc.deleting || inc.deleted;

  /** The collection object for `name` through getCollection, checked against the model. */
  const collectionFor = (name, label) => {
    let obj;
    try {
      obj = db.getCollection(name);
    } catch (error) {
      if (!(is(error, 'NotFoundError') && (current.get(name) === null || recreating.has(name)))) unexpected(`${label} getCollection`, error);
      return null;
    }
    let inc = byObject.get(obj);
    if (inc === undefined) {
      inc = pendingNew.get(name);
      if (inc === undefined) {
        violation('unknown collection object', label, { name });
        return null;
      }
      byObject.set(obj, inc);
    }
    if (inc.deleted) violation('deleted collection still listed', label, { name, incarnation: inc.serial });
    return { obj, inc };
  };

  // ---- reads: what each id may be seen holding
  const openRead = (inc, list) => {
    const rec = { allowed: new Map() };
    for (const id of list) {
      const st = inc.ids.get(id);
      const set = new Set([st.acked]);
      if (st.pending !== undefined) set.add(st.pending);
      rec.allowed.set(id, set);
    }
    inc.openReads.add(rec);
    return rec;
  };
  const closeRead = (inc, rec) => inc.openReads.delete(rec);
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const l2 = (a, b) => a.reduce((n, x, i) => n + (x - b[i]) ** 2, 0);

  const ops_ = {
    async query(label) {
      const name = pick(collectionNames);
      const found = collectionFor(name, label);
      if (found === null) return;
      const { obj, inc } = found;
      const probe = Float32Array.from({ length: dim }, () => rand() * 2 - 1);
      const filter = rand() < 0.3 ? sampleOf(idPool, 1 + Math.floor(rand() * 100)) : null;
      const k = 1 + Math.floor(rand() * 8);
      const rec = openRead(inc, idPool);
      const r = await call(label, () => obj.query(probe, { k, ...(filter === null ? {} : { filter: { ids: filter } }) }));
      closeRead(inc, rec);
      if (r.hang) return 'hang';
      if (r.error !== undefined) {
        if (!(is(r.error, 'BudgetExceededError') || (is(r.error, 'NotFoundError') && goneOrGoing(inc)))) unexpected(label, r.error);
        return;
      }
      const [res] = r.value;
      if (res.ids.length > k || new Set(res.ids).size !== res.ids.length) violation('bad result shape', label, { ids: res.ids, k });
      res.ids.forEach((id, i) => {
        const allowed = rec.allowed.get(id);
        if (allowed === undefined) return violation('unknown id in result', label, { id, incarnation: inc.serial });
        if (filter !== null && !filter.includes(id)) violation('id outside the filter', label, { id });
        const d = res.distances[i];
        const fits = [...allowed].some((v) => v !== null && Math.abs(l2(probe, vectorsOf.get(v)) - d) <= 1e-4 * Math.max(1, d));
        if (!fits) violation('query result not live', label, { id, distance: d, allowed: [...allowed], incarnation: inc.serial });
      });
    },

    async get(label) {
      const name = pick(collectionNames);
      const found = collectionFor(name, label);
      if (found === null) return;
      const { obj, inc } = found;
      const list = sampleOf(idPool, 1 + Math.floor(rand() * 8));
      const rec = openRead(inc, list);
      const r = await call(label, () => obj.get(list));
      closeRead(inc, rec);
      if (r.hang) return 'hang';
      if (r.error !== undefined) {
        const mayBeAbsent = list.some((id) => rec.allowed.get(id).has(null));
        if (!(is(r.error, 'BudgetExceededError') || (is(r.error, 'NotFoundError') && (mayBeAbsent || goneOrGoing(inc))))) {
          unexpected(label, r.error, { ids: list, allowed: list.map((id) => [...rec.allowed.get(id)]) });
        }
        return;
      }
      list.forEach((id, i) => {
        const got = Array.from(r.value.vectors[i]);
        const ok = [...rec.allowed.get(id)].some((v) => v !== null && same(got, Array.from(vectorsOf.get(v))));
        if (!ok) violation('get returned a value the id cannot hold', label, { id, got: got.slice(0, 3), allowed: [...rec.allowed.get(id)], incarnation: inc.serial });
      });
    },

    add: (label) => write('add', label),
    upsert: (label) => write('upsert', label),
    delete: (label) => write('delete', label),

    async unload(label) {
      const found = collectionFor(pick(collectionNames), label);
      if (found === null) return;
      const r = await call(label, () => found.obj.unload());
      if (r.hang) return 'hang';
      if (r.error !== undefined && !(is(r.error, 'NotFoundError') && goneOrGoing(found.inc))) unexpected(label, r.error);
    },

    async load(label) {
      const found = collectionFor(pick(collectionNames), label);
      if (found === null) return;
      const r = await call(label, () => found.obj.load());
      if (r.hang) return 'hang';
      if (r.error !== undefined && !(is(r.error, 'BudgetExceededError') || (is(r.error, 'NotFoundError') && goneOrGoing(found.inc)))) unexpected(label, r.error);
    },

    async configure(label) {
      if (configuring !== null) return;
      const to = rand() < 0.5 ? limits.low : limits.high;
      configuring = { from: limit, to };
      const r = await call(label, () => db.configure({ memoryLimitBytes: to }));
      configuring = null;
      if (r.hang) return 'hang';
      if (r.ok) limit = to;
      else if (!is(r.error, 'BudgetExceededError')) unexpected(label, r.error);
      sample(`after ${label} settled`);
    },

    async recreate(label) {
      const name = pick(collectionNames);
      if (recreating.has(name)) return;
      recreating.add(name);
      try {
        // The create is issued while the delete is in flight: it must wait for it, not fail.
        const old = current.get(name);
        const inc = makeInc(name, shardsOf(name));
        pendingNew.set(name, inc);
        if (old !== null) old.deleting = true;
        const [d, r] = await Promise.all([
          old === null ? { ok: true } : call(`${label} delete`, () => db.deleteCollection(name)),
          call(`${label} create`, () => db.createCollection(name, { dim, shards: inc.shards })),
        ]);
        pendingNew.delete(name);
        if (d.hang || r.hang) return 'hang';
        if (d.error !== undefined) unexpected(`${label} delete`, d.error);
        else if (old !== null) {
          old.deleted = true;
          current.set(name, null);
        }
        if (r.error !== undefined) return unexpected(`${label} create`, r.error);
        const seen = byObject.get(r.value);
        if (seen !== undefined && seen !== inc) violation('create returned an old collection', label, { name, incarnation: seen.serial });
        byObject.set(r.value, inc);
        current.set(name, inc);
      } finally {
        recreating.delete(name);
      }
    },

    async createExisting(label) {
      const name = pick(collectionNames);
      if (recreating.has(name) || current.get(name) === null) return;
      const r = await call(label, () => db.createCollection(name, { dim }));
      if (r.hang) return 'hang';
      if (r.ok) violation('created a name that exists', label, { name });
      else if (!is(r.error, 'AlreadyExistsError')) unexpected(label, r.error);
    },

    async flush(label) {
      const r = await call(label, () => db.flush());
      if (r.hang) return 'hang';
      if (r.error !== undefined) unexpected(label, r.error);
    },
  };

  async function write(op, label) {
    const name = pick(collectionNames);
    const found = collectionFor(name, label);
    if (found === null) return;
    const { obj, inc } = found;
    const free = idPool.filter((id) => !inc.locked.has(id));
    // Mostly calls that should succeed; now and then one the model says must be refused.
    const wantValid = rand() < 0.85;
    const candidates = free.filter((id) => {
      const present = inc.ids.get(id).acked !== null;
      if (op === 'add') return wantValid ? !present : true;
      if (op === 'delete') return wantValid ? present : true;
      return true;
    });
    const list = sampleOf(candidates, 1 + Math.floor(rand() * 24));
    if (list.length === 0) return;
    const values = list.map(() => (op === 'delete' ? null : newValue()));
    let expected = null;
    if (op === 'add' && list.some((id) => inc.ids.get(id).acked !== null)) expected = 'AlreadyExistsError';
    if (op === 'delete' && list.some((id) => inc.ids.get(id).acked === null)) expected = 'NotFoundError';
    for (const [i, id] of list.entries()) {
      inc.locked.add(id);
      inc.ids.get(id).pending = values[i];
      for (const rec of inc.openReads) rec.allowed.get(id)?.add(values[i]);
    }
    const flat = new Float32Array(list.length * dim);
    values.forEach((v, i) => v !== null && flat.set(vectorsOf.get(v), i * dim));
    const r = await call(label, () => (op === 'delete' ? obj.delete(list) : obj[op](list, flat)));
    if (r.hang) return 'hang'; // the ids stay locked: their state is unknown
    for (const [i, id] of list.entries()) {
      const st = inc.ids.get(id);
      st.pending = undefined;
      inc.locked.delete(id);
      if (r.ok) st.acked = values[i];
    }
    if (r.ok && expected !== null) violation('write should have been refused', label, { expected, ids: list, incarnation: inc.serial });
    if (r.error !== undefined) {
      const fine = is(r.error, 'BudgetExceededError') || (expected !== null && is(r.error, expected)) || (is(r.error, 'NotFoundError') && goneOrGoing(inc));
      if (!fine) unexpected(label, r.error, { ids: list, expected });
    }
  }

  // ---- setup
  db = await Shoal.open({ path, threads, durability, warmStart: false, maintenanceIntervalMs: 0 });
  open = true;
  db.on('loaded', () => sample('loaded event'));
  db.on('evicted', () => sample('evicted event'));
  limit = db.stats().limitBytes;
  for (const name of collectionNames) {
    const inc = makeInc(name, shardsOf(name));
    const obj = await db.createCollection(name, { dim, shards: inc.shards });
    byObject.set(obj, inc);
    current.set(name, inc);
    const list = idPool.filter((_, i) => i % 2 === 0);
    const values = list.map(() => newValue());
    const flat = new Float32Array(list.length * dim);
    values.forEach((v, i) => flat.set(vectorsOf.get(v), i * dim));
    await obj.add(list, flat);
    list.forEach((id, i) => (inc.ids.get(id).acked = values[i]));
  }
  // Sizes as written (a written shard holds write headroom a freshly loaded one lacks); the
  // limits hold about two collections, never all of them.
  await db.idle();
  const sizes = db.stats().collections.map((c) => c.bytes);
  const largest = Math.max(...sizes);
  const total = sizes.reduce((n, x) => n + x, 0);
  const limits = { low: Math.floor(largest * 2.2), high: Math.max(Math.floor(total * 0.7), Math.floor(largest * 2.8)) };
  await db.configure({ memoryLimitBytes: limits.high });
  limit = limits.high;

  // ---- the clients
  const perClient = Math.ceil(ops / clients);
  // `without`: operations left out (to look past one known failure at others).
  const names_ = Object.keys(WEIGHTS).filter((k) => !without.includes(k));
  const totalWeight = names_.reduce((n, k) => n + WEIGHTS[k], 0);
  const drawOp = () => {
    let x = rand() * totalWeight;
    for (const k of names_) if ((x -= WEIGHTS[k]) < 0) return k;
    return 'query';
  };
  let hung = false;
  const client = async (c) => {
    for (let step = 0; step < perClient && !hung; step++) {
      const op = drawOp();
      counts[op] = (counts[op] ?? 0) + 1;
      if ((await ops_[op](`client ${c} step ${step} ${op}`)) === 'hang') hung = true;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  const runMs = Date.now() - started;

  const summary = { seed, ops, clients, limits, runMs, samples, peakRatio: Number(peakRatio.toFixed(3)), counts, outcomes: { ...outcomes }, budgetSamples };
  if (hung) {
    summary.finalCheck = 'skipped: a call hung';
    return { violations, summary };
  }

  // ---- quiescent ledger, then close, reopen and compare with the model
  const idle = await call('idle', () => db.idle());
  if (idle.ok) {
    const s = db.stats();
    const perCollection = s.collections.reduce((n, c) => n + c.bytes, 0);
    // Per-collection bytes count the write headroom a shard keeps reserved: between resident and used.
    const exact = s.usedBytes === s.residentBytes + s.reservedBytes && s.residentBytes === s.nativeBytes + s.idTableBytes;
    if (!exact || perCollection < s.residentBytes || perCollection > s.usedBytes) {
      violation('ledger inconsistent at rest', 'after clients', {
        used: s.usedBytes, resident: s.residentBytes, reserved: s.reservedBytes, perCollection, native: s.nativeBytes + s.idTableBytes,
      });
    }
  }
  open = false; // stats() is refused once close begins
  const closed = await call('close', () => db.close());
  if (!closed.ok) {
    if (closed.error !== undefined) unexpected('close', closed.error);
    summary.finalCheck = 'skipped: close failed';
    return { violations, summary };
  }
  const reopened = await call('reopen', () => Shoal.open({ path, threads, durability, warmStart: false, maintenanceIntervalMs: 0 }));
  if (!reopened.ok) {
    unexpected('reopen', reopened.error);
    return { violations, summary };
  }
  const again = reopened.value;
  try {
    const expectedNames = collectionNames.filter((n) => current.get(n) !== null).sort();
    const listed = again.listCollections();
    if (!same(listed, expectedNames)) violation('collections after reopen', 'final', { listed, expected: expectedNames });
    for (const name of expectedNames) {
      if (!listed.includes(name)) continue;
      const inc = current.get(name);
      const col = again.getCollection(name);
      const present = idPool.filter((id) => inc.ids.get(id).acked !== null);
      const count = await call(`final count ${name}`, () => col.count());
      if (count.ok && count.value !== present.length) violation('count after reopen', 'final', { name, count: count.value, expected: present.length });
      if (present.length > 0) {
        const got = await call(`final get ${name}`, () => col.get(present));
        if (got.error !== undefined) unexpected(`final get ${name}`, got.error, { ids: present });
        else if (got.ok) {
          present.forEach((id, i) => {
            const want = Array.from(vectorsOf.get(inc.ids.get(id).acked));
            if (!same(Array.from(got.value.vectors[i]), want)) violation('acknowledged write lost or changed', 'final', { name, id, value: inc.ids.get(id).acked });
          });
        }
      }
      for (const id of idPool.filter((x) => inc.ids.get(x).acked === null)) {
        const got = await call(`final get absent ${name} ${id}`, () => col.get([id]));
        if (got.ok) violation('deleted or never-written id present after reopen', 'final', { name, id });
        else if (got.error !== undefined && !is(got.error, 'NotFoundError')) unexpected(`final get absent ${name} ${id}`, got.error);
      }
    }
  } finally {
    await call('final close', () => again.close());
  }
  summary.finalCheck = 'done';
  return { violations, summary };
}

// CLI: node test/support/model-run.mjs --seed N [--ops N] [--clients N] [--dir D] [--bound-ms N]
// Prints 'result <json>' and exits 1 on any violation (process.exit: a hung database must not
// keep the process alive).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? fallback : process.argv[i + 1];
  };
  const dir = arg('dir', undefined) ?? mkdtempSync(join(tmpdir(), 'shoal-model-'));
  let result;
  try {
    result = await runModel({
      seed: Number(arg('seed', 1)), ops: Number(arg('ops', 400)), clients: Number(arg('clients', 4)), dir, boundMs: Number(arg('bound-ms', 20_000)),
      without: String(arg('without', '')).split(',').filter(Boolean),
    });
  } catch (err) {
    result = { violations: [{ kind: 'runner threw', label: 'setup', error: `${err?.name}: ${err?.message}`, stack: String(err?.stack).slice(0, 800) }], summary: {} };
  }
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
  if (arg('keep', undefined) === undefined) rmSync(dir, { recursive: true, force: true });
  process.exit(result.violations.length === 0 ? 0 : 1);
}
