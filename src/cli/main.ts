#!/usr/bin/env node
/**
 * The `shoal` command (package.json "bin"): `shoal COMMAND ARGS...`. Dispatches through the
 * table in commands/index.ts; each command parses its own arguments and returns its exit code.
 */
import { readFileSync } from 'node:fs';

import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, note, print, UsageError } from './command.js';
import { commands } from './commands/index.js';

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: shoal COMMAND [ARGS...]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'shoal COMMAND --help' for a command's arguments. Exit codes: 0 success; 1 failure or",
    'damage found; 2 usage error; 3 the directory is open in another process.',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    await print(overview());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    await print(version());
    return EXIT_OK;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    note(`shoal: unknown command ${JSON.stringify(name)}\n\n${overview()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      note(`shoal ${command.name}: ${err.message}\n\n${command.usage}`);
      return EXIT_USAGE;
    }
    note(`shoal ${command.name}: ${(err as Error)?.stack ?? String(err)}`);
    return EXIT_FAILED;
  }
}

process.exitCode = await main(process.argv.slice(2));
