#!/usr/bin/env node
/** The `shoal` command: dispatches to a subcommand (src/cli/commands) and exits with its status. */
import { EXIT_USAGE } from './command.js';
import { COMMANDS } from './commands/index.js';

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return ['usage: shoal <command> [arguments]', '', ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`), '', 'shoal help <command> for its usage.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const wanted = COMMANDS.find((c) => c.name === rest[0]);
    process.stdout.write(`${wanted?.usage ?? help()}\n`);
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`shoal: unknown command ${JSON.stringify(name)}\n\n${help()}\n`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    process.stderr.write(`shoal ${name}: ${(err as Error).message ?? String(err)}${typeof code === 'string' ? ` (${code})` : ''}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
