/**
 * Opening a data directory for the commands that need a database (export, import, backup):
 * the directory lock is taken, so a directory open in another process is refused (exit 3)
 * rather than read behind its back. Warm start is off: a command touches what it needs only.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { LockedError, Shoal, ShoalError } from '../../index.js';
import { EXIT_FAILED, EXIT_LOCKED, note, UsageError } from '../command.js';

/**
 * Runs `work` on the database in `dir` and closes it, turning shoal's errors into a message on
 * stderr and an exit code. `mustExist`: refuse a directory that holds no database.
 */
export async function withDatabase(dir: string, mustExist: boolean, work: (db: Shoal) => Promise<number>): Promise<number> {
  if (mustExist && !(existsSync(dir) && statSync(dir).isDirectory() && existsSync(join(dir, 'MANIFEST')))) {
    throw new UsageError(`${dir} is not a shoal data directory (it has no MANIFEST)`);
  }
  let db: Shoal;
  try {
    db = await Shoal.open({ path: dir, warmStart: false });
  } catch (err) {
    return failure(err, dir);
  }
  let code: number;
  try {
    code = await work(db);
  } catch (err) {
    code = failure(err, dir);
  }
  try {
    await db.close();
  } catch (err) {
    return failure(err, dir);
  }
  return code;
}

/** Prints a shoal error (code and message) and returns the exit code it maps to. */
export function failure(err: unknown, dir: string): number {
  if (err instanceof UsageError) throw err;
  if (err instanceof LockedError) {
    note(`shoal: ${err.message}. Stop that process first, or call db.backup() / col.export() from it: both run while it serves.`);
    return EXIT_LOCKED;
  }
  if (err instanceof ShoalError) note(`shoal: ${err.code}: ${err.message}`);
  else note(`shoal: ${dir}: ${(err as Error)?.stack ?? String(err)}`);
  return EXIT_FAILED;
}
