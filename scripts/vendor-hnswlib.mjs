#!/usr/bin/env node
// Copies hnswlib 0.8.0's headers (with their licence) from the pinned hnswlib-node
// devDependency into native/vendor/hnswlib, so a packed tarball can build from source
// without it. Runs at pack time only; native/vendor is ignored by git.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const pkgJson = require.resolve('hnswlib-node/package.json', { paths: [root] });
const pkg = JSON.parse(readFileSync(pkgJson, 'utf8'));
if (pkg.version !== '3.0.0') throw new Error(`expected hnswlib-node 3.0.0 (hnswlib 0.8.0), found ${pkg.version}`);
const from = join(dirname(pkgJson), 'src', 'hnswlib');
const to = join(root, 'native', 'vendor', 'hnswlib');
rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
cpSync(from, to, { recursive: true });
const licence = join(dirname(pkgJson), 'src', 'LICENSE');
if (existsSync(licence)) cpSync(licence, join(to, 'LICENSE'));
console.log(`vendored hnswlib headers from hnswlib-node ${pkg.version} into native/vendor/hnswlib`);
