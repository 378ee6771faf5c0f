// Keeps the dependencies one way: API -> coordinator -> pool -> native, with storage beside the
// pool (below the coordinator, never imported by the pool, never importing it) and pure modules
// at the bottom importing nothing but other pure modules, so that they never load the addon.
// Beside the API: tools (src/tools: file readers and verifiers, the export format), which read
// storage and native files without a database; and the consumers, the shoal command (src/cli)
// and the server (src/server), which use the public API through src/index.ts, and the tools.
// Type-only imports are erased at build time and do not count. The native sources are checked
// for include loops between their files.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

type Layer = 'consumer' | 'api' | 'tools' | 'coordinator' | 'pool' | 'storage' | 'native' | 'pure';

const PURE = new Set([
  'src/errors.ts',
  'src/vectors.ts',
  'src/config.ts',
  'src/segment-spec.ts',
  'src/budget/policy.ts',
  'src/budget/thresholds.ts',
  'src/budget/clock.ts',
  'src/budget/ledger.ts',
  'src/budget/stats.ts',
  'src/budget/transient.ts',
  'src/pool/merge.ts',
  'src/pool/protocol.ts',
  'src/native/constants.ts',
  'src/storage/layout.ts',
  'src/health.ts',
  'src/diagnostics.ts',
  'src/shutdown.ts',
]);

export function layerOf(file: string): Layer {
  if (PURE.has(file) || file.startsWith('src/ids/') || file.startsWith('src/metadata/')) return 'pure';
  // The command line and the server use shoal as any application would: through src/index.ts
  // (and the directory readers in src/tools).
  if (file.startsWith('src/cli/') || file.startsWith('src/server/')) return 'consumer';
  if (file.startsWith('src/tools/')) return 'tools';
  if (file === 'src/index.ts' || file === 'src/shoal.ts' || file === 'src/metrics.ts' || file === 'src/collection.ts' || file.startsWith('src/demo/')) return 'api';
  if (file.startsWith('src/coordinator/') || file === 'src/budget/governor.ts' || file === 'src/budget/sizes.ts') return 'coordinator';
  if (file.startsWith('src/pool/')) return 'pool';
  if (file.startsWith('src/storage/')) return 'storage';
  if (file.startsWith('src/native/')) return 'native';
  throw new Error(`${file}: no layer; add it to test/unit/layering.test.ts`);
}

/** Which layers each layer may import (values, not types). */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  consumer: ['consumer', 'api', 'tools', 'pure'],
  api: ['api', 'coordinator', 'tools', 'pure'],
  tools: ['tools', 'storage', 'native', 'pure'],
  coordinator: ['coordinator', 'pool', 'storage', 'native', 'pure'],
  pool: ['pool', 'native', 'pure'],
  storage: ['storage', 'native', 'pure'],
  native: ['native', 'pure'],
  pure: ['pure'],
};

/** The package's entry point re-exports the raw Segment API too: re-exports, not calls. */
const EXCEPTIONS = new Set(['src/index.ts -> src/native/binding.ts', 'src/index.ts -> src/native/segment.ts']);

export interface Edge {
  readonly from: string;
  readonly to: string;
}

/** Value imports and re-exports between the project's own TypeScript files. */
export function valueImports(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"](\.[^'"]+)['"]/gm;
  const bare = /^\s*import\s+['"](\.[^'"]+)['"]/gm;
  for (const m of text.matchAll(statement)) {
    if (m[2] !== undefined) continue; // import type / export type
    const names = m[3] ?? '';
    // `import { type A, type B }` imports nothing at run time either.
    const braced = /^\{([^}]*)\}$/.exec(names.trim());
    if (braced !== null && (braced[1] as string).split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) continue;
    edges.push({ from: file, to: target(file, m[4] as string) });
  }
  for (const m of text.matchAll(bare)) edges.push({ from: file, to: target(file, m[1] as string) });
  return edges;
}

function target(file: string, spec: string): string {
  return relative(root, resolve(root, dirname(file), spec)).replace(/\.js$/, '.ts');
}

export function violations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const key = `${e.from} -> ${e.to}`;
    if (EXCEPTIONS.has(key)) continue;
    const from = layerOf(e.from);
    const to = layerOf(e.to);
    if (!ALLOWED[from].includes(to)) out.push(`${key}: ${from} may not import ${to}`);
    else if (from === 'consumer' && to === 'api' && e.to !== 'src/index.ts') out.push(`${key}: consumer imports the API only through src/index.ts`);
  }
  return out;
}

function sources(dir: string, ext: RegExp): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && ext.test(d.name))
    .map((d) => relative(root, join(d.parentPath, d.name)));
}

function projectEdges(): Edge[] {
  return sources('src', /\.ts$/).flatMap((file) => valueImports(file, readFileSync(join(root, file), 'utf8')));
}

/** Native files whose .cc includes another file's header, as a graph of file stems. */
function nativeIncludeLoops(): string[] {
  const stem = (f: string): string => f.replace(/^native\//, '').replace(/\.(cc|h)$/, '');
  const graph = new Map<string, Set<string>>();
  for (const file of sources('native', /\.(cc|h)$/)) {
    if (file.includes('/vendor/')) continue;
    const from = stem(file);
    for (const m of readFileSync(join(root, file), 'utf8').matchAll(/^#include\s+"([^"]+)\.h"/gm)) {
      const to = (m[1] as string).replace(/^.*\//, '');
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)?.add(to);
    }
  }
  const loops: string[] = [];
  for (const [a, outs] of graph) for (const b of outs) if (a < b && graph.get(b)?.has(a)) loops.push(`${a} <-> ${b}`);
  return loops;
}

describe('layering', () => {
  it('every TypeScript import follows API -> coordinator -> pool/storage -> native, pure at the bottom', () => {
    const edges = projectEdges();
    expect(edges.length).toBeGreaterThan(50);
    expect(violations(edges)).toEqual([]);
  });

  it('every source file has a layer', () => {
    for (const file of sources('src', /\.ts$/)) expect(() => layerOf(file)).not.toThrow();
  });

  it.each([
    ['src/pool/worker.ts', "import { readIds } from '../storage/files.js';", 'pool may not import storage'],
    ['src/pool/merge.ts', "import { native } from '../native/binding.js';", 'pure may not import native'],
    ['src/shoal.ts', "import { Pool } from './pool/pool.js';", 'api may not import pool'],
    ['src/storage/wal.ts', "import { Pool } from '../pool/pool.js';", 'storage may not import pool'],
    ['src/budget/governor.ts', "export { ShardStore } from '../coordinator/shard-store.js';", null],
    ['src/budget/policy.ts', "import { Governor } from './governor.js';", 'pure may not import coordinator'],
    ['src/cli/commands/stats.ts', "import { Database } from '../../coordinator/database.js';", 'consumer may not import coordinator'],
    ['src/tools/verify.ts', "import { Shoal } from '../shoal.js';", 'tools may not import api'],
    ['src/server/app.ts', "import { Shoal } from '../shoal.js';", 'consumer imports the API only through src/index.ts'],
    ['src/server/app.ts', "import { Shoal } from '../index.js';", null],
    ['src/shoal.ts', "import { startServer } from './server/app.js';", 'api may not import consumer'],
  ])('reports a forbidden import added to %s', (file, line, expected) => {
    const found = violations(valueImports(file, line));
    if (expected === null) expect(found).toEqual([]);
    else expect(found.join('\n')).toContain(expected);
  });

  it('ignores type-only imports', () => {
    expect(valueImports('src/pool/merge.ts', "import type { Pool } from './pool.js';\nimport { type Tasks } from './protocol.js';")).toEqual([]);
  });

  it('has no include loop between native source files', () => {
    expect(nativeIncludeLoops()).toEqual([]);
  });
});
