/**
 * What every `shoal` subcommand is, and the argument parsing they share (node:util parseArgs,
 * strict: an unknown option is a usage error, never ignored).
 *
 * Exit codes, for scripts: 0 success (verify: healthy); 1 the operation failed or (verify)
 * damage was found; 2 usage error (bad arguments); 3 the directory is open in another process.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  readonly name: string;
  /** One line for `shoal --help`. */
  readonly summary: string;
  /** The full help text, printed by `shoal NAME --help`. */
  readonly usage: string;
  /** Runs with the arguments after the command's name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_LOCKED = 3;

/** Bad arguments: main prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
  /** `--help` or `-h` was given: print usage, do nothing else. */
  readonly help: boolean;
}

/**
 * Parses `argv` with `options` (plus --help) and checks the positional count.
 * @throws {UsageError} naming what was wrong.
 */
export function parse(argv: string[], options: Options, positionals: { min: number; max: number }): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values['help'] === true) return { values, positionals: parsed.positionals, help: true };
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`missing arguments: expected at least ${positionals.min}, got ${n}`);
  if (n > positionals.max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`);
  return { values, positionals: parsed.positionals, help: false };
}

/** A positional that must name an existing directory, made absolute. @throws {UsageError} */
export function directoryArg(path: string): string {
  const dir = resolve(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory`);
  return dir;
}

/** A positive integer option, or undefined when absent. @throws {UsageError} */
export function intOption(values: Parsed['values'], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 1) throw new UsageError(`--${name}: must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Writes to stderr (stdout is kept for the command's output, which scripts read). */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Writes `text` to stdout and waits until it is handed to the OS (so exit codes follow output). */
export function print(text: string): Promise<void> {
  return new Promise((done) => process.stdout.write(`${text}\n`, () => done()));
}
