/**
 * `shoal serve DIR`: opens the data directory and serves it over HTTP (src/server/app.ts).
 *
 * --config FILE is JSON with the open options (threads, durability, warmStart) and the budget
 * options (memoryLimitBytes, thresholds, ...). On SIGHUP the file is read again and its budget
 * options applied through db.configure, which keeps the cache; a file that cannot be read,
 * parsed or applied is reported and changes nothing. SIGTERM/SIGINT stop accepting, drain the
 * requests in flight, then close the database (db.closeOnSignals hooks).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { Shoal, type BudgetOptions, type ShoalOptions } from '../../index.js';
import { createServer } from '../../server/app.js';
import { EXIT_USAGE, UsageError, type Command } from '../command.js';

const BUDGET_KEYS = ['memoryLimitBytes', 'cachePolicy', 'ttlMs', 'maintenanceIntervalMs', 'thresholds', 'evictionTarget', 'admissionWaitMs'] as const;
const OPEN_KEYS = ['threads', 'durability', 'warmStart'] as const;

export interface ServeConfig {
  readonly open: Pick<ShoalOptions, (typeof OPEN_KEYS)[number]>;
  readonly budget: BudgetOptions;
}

/** Reads and checks a --config file. Values are checked by Shoal.open / db.configure. */
export function readServeConfig(file: string): ServeConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file}: must hold a JSON object`);
  const open: Record<string, unknown> = {};
  const budget: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if ((BUDGET_KEYS as readonly string[]).includes(key)) budget[key] = value;
    else if ((OPEN_KEYS as readonly string[]).includes(key)) open[key] = value;
    else throw new Error(`${file}: unknown setting ${JSON.stringify(key)}; expected one of ${[...BUDGET_KEYS, ...OPEN_KEYS].join(', ')}`);
  }
  return { open, budget };
}

const USAGE = `usage: shoal serve DIR [--port P] [--host H] [--config FILE]

Serves the data directory DIR over HTTP:
  GET  /                      dashboard (memory, residency, hit rate, evictions)
  GET  /health                {status, reasons}; 503 when critical
  GET  /metrics               Prometheus text
  GET  /v1/stats              the JSON the dashboard and \`shoal monitor URL\` poll
  GET|POST /v1/collections    list | create {name, dim, ...}
  POST /v1/collections/NAME/{query,add,upsert,delete,get}

options:
  --port P         TCP port (default 7700; 0 picks a free one)
  --host H         address to bind (default 127.0.0.1, this machine only)
  --config FILE    JSON settings (budget and open options); budget settings are
                   read again on SIGHUP and applied without dropping the cache
  --body-limit N   largest request body in bytes (default 67108864)`;

function log(line: string): void {
  process.stdout.write(`shoal serve: ${line}\n`);
}

function parse(argv: string[]): { dir: string; port: number; host: string; config: string | undefined; bodyLimit: number | undefined } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { port: { type: 'string' }, host: { type: 'string' }, config: { type: 'string' }, 'body-limit': { type: 'string' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(`expected one data directory, got ${positionals.length}`);
  const port = Number(values.port ?? 7700);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: must be an integer from 0 to 65535, got ${values.port}`);
  const bodyLimit = values['body-limit'] === undefined ? undefined : Number(values['body-limit']);
  if (bodyLimit !== undefined && !(Number.isSafeInteger(bodyLimit) && bodyLimit > 0)) throw new UsageError(`--body-limit: must be a positive integer, got ${values['body-limit']}`);
  return { dir: positionals[0] as string, port, host: values.host ?? '127.0.0.1', config: values.config, bodyLimit };
}

export const serve: Command = {
  name: 'serve',
  summary: 'serve a data directory over HTTP: health, metrics, dashboard, collection calls',
  usage: USAGE,
  async run(argv) {
    let args;
    let config: ServeConfig = { open: {}, budget: {} };
    try {
      args = parse(argv);
      if (args.config !== undefined) config = readServeConfig(args.config);
    } catch (err) {
      process.stderr.write(`shoal serve: ${(err as Error).message}\n${err instanceof UsageError ? `\n${USAGE}\n` : ''}`);
      return EXIT_USAGE;
    }
    const db = await Shoal.open({ ...config.open, ...config.budget, path: args.dir });
    const app = await createServer(db, { bodyLimit: args.bodyLimit });
    db.on('reconfigured', ({ config: c }) => {
      log(`reconfigured: memoryLimitBytes ${c.memoryLimitBytes}, thresholds ${JSON.stringify(c.thresholds)}, ttlMs ${c.ttlMs}, cachePolicy ${c.cachePolicy}`);
    });

    // One reload at a time, in the order the signals came.
    let reloads = Promise.resolve();
    const configFile = args.config;
    const onHangup = (): void => {
      reloads = reloads.then(async () => {
        if (configFile === undefined) return log('SIGHUP: no --config file, nothing to reload');
        try {
          await db.configure(readServeConfig(configFile).budget);
          log(`SIGHUP: applied ${configFile}`);
        } catch (err) {
          process.stderr.write(`shoal serve: SIGHUP: ${configFile} not applied, the settings in force are unchanged: ${(err as Error).message}\n`);
        }
      });
    };
    process.on('SIGHUP', onHangup);

    const stopped = new Promise<number>((resolve) => app.addHook('onClose', async () => resolve(0)));
    try {
      await app.listen({ port: args.port, host: args.host });
    } catch (err) {
      process.off('SIGHUP', onHangup);
      await db.close();
      throw err;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : args.port;
    const shown = args.host.includes(':') ? `[${args.host}]` : args.host;
    log(`serving ${db.path} on http://${shown}:${port}`);

    db.closeOnSignals({
      hooks: [
        (signal) => {
          log(`${signal}: stopping (draining requests, then closing the database)`);
          process.off('SIGHUP', onHangup);
          app.beginShutdown();
        },
        () => app.close(),
      ],
    });
    return stopped;
  },
};
