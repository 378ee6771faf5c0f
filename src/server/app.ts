/**
 * shoal's HTTP server: health, Prometheus metrics, a JSON stats feed with a dashboard page, and
 * the collection calls. Built on fastify; it uses the database only through the public API, as
 * any application would. createServer() builds the app without listening, so tests and
 * embedders choose how to start and stop it.
 *
 * Request bodies are checked for unknown keys here (a typo must not be silently ignored); every
 * value is then validated by the library, whose typed error becomes the 4xx response.
 */
import { readFileSync } from 'node:fs';

import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';

import { InvalidArgumentError, type MetricsRegistry, type Shoal } from '../index.js';
import { httpError } from './errors.js';

export interface ServerOptions {
  /** Largest request body in bytes (a query or add batch of JSON numbers). Default 64 MiB. */
  readonly bodyLimit?: number;
  /** Fastify's logger: false (default) or true. */
  readonly logger?: boolean;
}

/** The JSON the dashboard and `shoal monitor` poll (GET /v1/stats). */
export interface StatsFeed {
  readonly atMs: number;
  readonly path: string;
  readonly health: ReturnType<Shoal['health']>;
  readonly config: Shoal['config'];
  readonly stats: ReturnType<Shoal['stats']>;
}

const PUBLIC = new URL('../../src/server/public/', import.meta.url);
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

type Body = Record<string, unknown>;

/** The request body as an object with only `allowed` keys and every `required` one. */
function fields(req: FastifyRequest, allowed: readonly string[], required: readonly string[] = []): Body {
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError(`request body: must be a JSON object with ${required.join(', ') || allowed.join(', ')}, got ${body === undefined ? 'nothing' : typeof body}`);
  }
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new InvalidArgumentError(`request body: unknown field ${JSON.stringify(key)}; expected ${allowed.join(', ')}`);
  }
  for (const key of required) {
    if (!(key in body)) throw new InvalidArgumentError(`request body: missing field ${JSON.stringify(key)}`);
  }
  return body as Body;
}

/** Only the keys that were given: an absent option must stay absent, not become undefined. */
function defined(o: Body): Body {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** A fastify app serving a database; beginShutdown() makes /health answer 503 from now on. */
export type ShoalServer = FastifyInstance & { beginShutdown(): void };

/** Builds the app for `db`; it does not listen. */
export async function createServer(db: Shoal, options: ServerOptions = {}): Promise<ShoalServer> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 2 ** 20,
    // During a shutdown the requests on open connections are still served: the database closes
    // only after the server has drained (db.closeOnSignals hooks), so they can succeed.
    return503OnClosing: false,
  });
  let shuttingDown = false;
  let registry: MetricsRegistry | null = null;
  let metricsError: unknown = null;
  try {
    registry = await db.metrics();
  } catch (err) {
    metricsError = err; // prom-client missing: everything but /metrics works
  }

  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = httpError(err);
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'SHOAL_NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });

  app.get('/health', async (_req, reply) => {
    const health = shuttingDown ? { status: 'critical', reasons: ['the server is shutting down'] } : db.health();
    return reply.code(health.status === 'critical' ? 503 : 200).send(health);
  });

  app.get('/metrics', async (_req, reply) => {
    if (registry === null) throw metricsError;
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  app.get('/v1/stats', async (): Promise<StatsFeed> => ({
    atMs: Date.now(), path: db.path, health: db.health(), config: db.config, stats: db.stats(),
  }));

  for (const [route, { file, type }] of Object.entries(STATIC)) {
    const text = readFileSync(new URL(file, PUBLIC), 'utf8');
    app.get(route, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(text));
  }

  // ---- collections ----------------------------------------------------------------------------
  type Named = { Params: { name: string } };
  const collection = (req: FastifyRequest<Named>) => db.getCollection(req.params.name);
  const describeCollection = (c: ReturnType<Shoal['getCollection']>) => ({
    name: c.name, dim: c.dim, space: c.space, shards: c.shardCount, M: c.M, efConstruction: c.efConstruction, efSearch: c.efSearch,
    priority: c.priority, quotaBytes: c.quotaBytes, pinned: c.pinned, stats: c.stats(),
  });

  app.get('/v1/collections', async () => ({ collections: db.listCollections().map((name) => describeCollection(db.getCollection(name))) }));

  app.post('/v1/collections', async (req, reply) => {
    const b = fields(req, ['name', 'dim', 'space', 'shards', 'M', 'efConstruction', 'efSearch', 'priority', 'quotaBytes'], ['name', 'dim']);
    const { name, ...options } = b;
    if (typeof name !== 'string') throw new InvalidArgumentError(`name: must be a string, got ${typeof name}`);
    const created = await db.createCollection(name, defined(options) as never);
    return reply.code(201).send(describeCollection(created));
  });

  app.get<Named>('/v1/collections/:name', async (req) => describeCollection(collection(req)));

  app.delete<Named>('/v1/collections/:name', async (req) => {
    await db.deleteCollection(req.params.name);
    return { deleted: req.params.name };
  });

  app.post<Named>('/v1/collections/:name/query', async (req) => {
    const b = fields(req, ['queries', 'k', 'ef', 'where', 'filter'], ['queries']);
    const { queries, ...options } = b;
    const results = await collection(req).query(queries as never, defined(options));
    return { results: results.map((r) => ({ ids: r.ids, distances: Array.from(r.distances) })) };
  });

  for (const kind of ['add', 'upsert'] as const) {
    app.post<Named>(`/v1/collections/:name/${kind}`, async (req) => {
      const b = fields(req, ['ids', 'vectors'], ['ids', 'vectors']);
      await collection(req)[kind](b['ids'] as never, b['vectors'] as never);
      return { [kind === 'add' ? 'added' : 'upserted']: (b['ids'] as unknown[]).length };
    });
  }

  app.post<Named>('/v1/collections/:name/delete', async (req) => {
    const b = fields(req, ['ids'], ['ids']);
    await collection(req).delete(b['ids'] as never);
    return { deleted: (b['ids'] as unknown[]).length };
  });

  app.post<Named>('/v1/collections/:name/get', async (req) => {
    const b = fields(req, ['ids'], ['ids']);
    const got = await collection(req).get(b['ids'] as never);
    return { ids: got.ids, vectors: got.vectors.map((v) => Array.from(v)) };
  });

  const server = app as unknown as ShoalServer;
  server.beginShutdown = () => {
    shuttingDown = true;
  };
  return server;
}
