// The HTTP server on a real socket (port 0): every endpoint, the error mapping, metrics that
// parse and agree with the JSON feed, and /health turning 503 when the database is critical.
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { createServer, type ShoalServer } from '../../src/server/app.js';
import { tempDir } from '../support/db.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

let db: Shoal;
let app: ShoalServer;
let base: string;
const dir = tempDir();

async function call(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; json: any; type: string | null }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined && raw === undefined ? {} : { 'content-type': 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (metrics, the page)
  }
  return { status: res.status, json, type: res.headers.get('content-type') };
}

beforeAll(async () => {
  db = await Shoal.open({ path: dir.path, memoryLimitBytes: '64MB', maintenanceIntervalMs: 0, threads: 2 });
  app = await createServer(db);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await db?.close();
  dir.remove();
});

describe('server', () => {
  it('creates, lists, writes, reads, queries and deletes through the collection endpoints', async () => {
    const created = await call('POST', '/v1/collections', { name: 'docs', dim: 3, space: 'l2', shards: 2 });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'docs', dim: 3, space: 'l2', shards: 2 });

    expect(await call('POST', '/v1/collections/docs/add', { ids: ['a', 'b', 'c'], vectors: [[0, 0, 0], [1, 0, 0], [5, 5, 5]] })).toMatchObject({ status: 200, json: { added: 3 } });
    expect(await call('POST', '/v1/collections/docs/upsert', { ids: ['c'], vectors: [[2, 0, 0]] })).toMatchObject({ status: 200, json: { upserted: 1 } });
    expect((await call('POST', '/v1/collections/docs/get', { ids: ['c', 'a'] })).json).toEqual({ ids: ['c', 'a'], vectors: [[2, 0, 0], [0, 0, 0]] });

    const q = await call('POST', '/v1/collections/docs/query', { queries: [[0.1, 0, 0], [2, 0, 0]], k: 2, ef: 16 });
    expect(q.status).toBe(200);
    expect(q.json.results.map((r: { ids: string[] }) => r.ids)).toEqual([['a', 'b'], ['c', 'b']]);
    expect(q.json.results[0].distances[0]).toBeCloseTo(0.01, 5);
    const filtered = await call('POST', '/v1/collections/docs/query', { queries: [[0, 0, 0]], k: 1, filter: { ids: ['c'] } });
    expect(filtered.json.results[0].ids).toEqual(['c']);

    expect(await call('POST', '/v1/collections/docs/delete', { ids: ['b'] })).toMatchObject({ status: 200, json: { deleted: 1 } });
    const listed = await call('GET', '/v1/collections');
    expect(listed.json.collections.map((c: { name: string; stats: { count: number } }) => [c.name, c.stats.count])).toEqual([['docs', 2]]);
    expect((await call('GET', '/v1/collections/docs')).json.stats.count).toBe(2);
    expect(await call('DELETE', '/v1/collections/docs')).toMatchObject({ status: 200, json: { deleted: 'docs' } });
    expect(db.listCollections()).toEqual([]);
  });

  it('answers bad requests with 4xx and the typed error\'s code', async () => {
    await call('POST', '/v1/collections', { name: 'e', dim: 2 });
    const cases: [string, string, unknown, string | undefined, number, string][] = [
      ['POST', '/v1/collections/e/query', { queries: [[1, 2, 3]], k: 1 }, undefined, 400, 'SHOAL_DIMENSION_MISMATCH'],
      ['POST', '/v1/collections/e/query', { queries: [[1, 2]], k: 0 }, undefined, 400, 'SHOAL_INVALID_ARGUMENT'],
      ['POST', '/v1/collections/e/query', { queries: [[1, 2]], kk: 1 }, undefined, 400, 'SHOAL_INVALID_ARGUMENT'],
      ['POST', '/v1/collections/e/query', undefined, '{"queries": [[1,', 400, 'SHOAL_INVALID_ARGUMENT'],
      ['POST', '/v1/collections/e/add', { ids: ['x'], vectors: [[1, Number.NaN]] }, '{"ids":["x"],"vectors":[[1,null]]}', 400, 'SHOAL_INVALID_VECTOR'],
      ['POST', '/v1/collections/e/add', { ids: [''], vectors: [[1, 2]] }, undefined, 400, 'SHOAL_INVALID_LABEL'],
      ['POST', '/v1/collections/e/get', { ids: ['missing'] }, undefined, 404, 'SHOAL_NOT_FOUND'],
      ['POST', '/v1/collections/nope/query', { queries: [[1, 2]] }, undefined, 404, 'SHOAL_NOT_FOUND'],
      ['POST', '/v1/collections', { name: 'e', dim: 2 }, undefined, 409, 'SHOAL_ALREADY_EXISTS'],
      ['POST', '/v1/collections', { name: '../x', dim: 2 }, undefined, 400, 'SHOAL_INVALID_ARGUMENT'],
      ['GET', '/v1/no-such-route', undefined, undefined, 404, 'SHOAL_NOT_FOUND'],
    ];
    for (const [method, path, body, raw, status, code] of cases) {
      const r = await call(method, path, body, raw);
      expect({ path, body: raw ?? body, status: r.status, code: r.json?.error?.code }).toEqual({ path, body: raw ?? body, status, code });
      expect(typeof r.json.error.message).toBe('string');
    }
    const unknown = await call('POST', '/v1/collections/e/query', { queries: [[1, 2]], kk: 1 });
    expect(unknown.json.error.message).toContain('unknown field "kk"');
    await call('DELETE', '/v1/collections/e');
  });

  it('serves Prometheus metrics that parse and agree with the JSON feed', async () => {
    await call('POST', '/v1/collections', { name: 'm', dim: 4 });
    await call('POST', '/v1/collections/m/add', { ids: ['1', '2'], vectors: [[1, 2, 3, 4], [4, 3, 2, 1]] });
    await call('POST', '/v1/collections/m/query', { queries: [[1, 2, 3, 4]], k: 1 });
    await db.idle();
    const metrics = await call('GET', '/metrics');
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(metrics.json as string);
    const feed = (await call('GET', '/v1/stats')).json;
    expect(feed.health).toEqual({ status: 'ok', reasons: [] });
    expect(feed.config.thresholds).toEqual(db.config.thresholds);
    expect({
      used: sampleValue(families, 'shoal_memory_used_bytes'), hits: sampleValue(families, 'shoal_cache_hits_total'),
      bytes: sampleValue(families, 'shoal_collection_resident_bytes', { collection: 'm' }),
    }).toEqual({
      used: feed.stats.usedBytes, hits: feed.stats.hits, bytes: feed.stats.collections.find((c: { name: string }) => c.name === 'm').bytes,
    });
    await call('DELETE', '/v1/collections/m');
  });

  it('serves the dashboard page and its script, both from this server', async () => {
    const page = await call('GET', '/');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.json).toContain('<script src="/dashboard.js"');
    expect(page.json).not.toMatch(/https?:\/\//); // nothing fetched from outside
    const script = await call('GET', '/dashboard.js');
    expect(script.status).toBe(200);
    expect(script.json).toContain("fetch('/v1/stats'");
  });

  it('answers /health 503 with the reasons when the database is critical, and while shutting down', async () => {
    const c = await db.createCollection('crit', { dim: 8, priority: 'critical' });
    await c.add(Array.from({ length: 50 }, (_, i) => `v${i}`), new Float32Array(50 * 8).fill(0.5));
    await db.idle();
    // A limit the critical (never evicted) collection fills to 99 %: the emergency level.
    await db.configure({ memoryLimitBytes: Math.ceil(db.stats().usedBytes / 0.99) });
    await db.maintain();
    await db.idle();
    const critical = await call('GET', '/health');
    expect(critical.status).toBe(503);
    expect(critical.json).toEqual({ status: 'critical', reasons: [expect.stringContaining('emergency level')] });
    await db.configure({ memoryLimitBytes: '64MB' });
    await db.maintain();
    expect(await call('GET', '/health')).toMatchObject({ status: 200, json: { status: 'ok' } });
    await db.deleteCollection('crit');

    app.beginShutdown();
    expect(await call('GET', '/health')).toMatchObject({ status: 503, json: { status: 'critical', reasons: ['the server is shutting down'] } });
  });
});
