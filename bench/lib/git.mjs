/** The commit the numbers come from. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** HEAD plus "+dirty" when the tree has changes: numbers from uncommitted code say so. */
export function gitCommit() {
  try {
    const cwd = fileURLToPath(new URL('../..', import.meta.url));
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}
