/** A `shoal` subcommand: `run` gets the arguments after its name and resolves to the exit code. */
export interface Command {
  readonly name: string;
  /** One line for `shoal help`. */
  readonly summary: string;
  /** The usage text printed by `shoal help NAME` and on a usage error. */
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

/** A mistake in the command line: printed with the command's usage, exit status 2. */
export class UsageError extends Error {}

export const EXIT_USAGE = 2;
