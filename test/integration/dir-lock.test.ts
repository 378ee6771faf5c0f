// The data-directory lock (src/storage/dir-lock.ts) across processes: two processes racing for
// one directory, a LOCK file left with a pid that is alive but not the owner's (a container
// restart hands the new process the dead owner's pid), an owner killed with SIGKILL, and a
// second open inside one process.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { IoError, LockedError } from '../../src/errors.js';
import { lockDirectory } from '../../src/storage/dir-lock.js';
import { nodeCommand } from '../support/node.js';

const FIXTURE = new URL('../fixtures/lock-contender.mjs', import.meta.url).pathname;
const TRIALS = 60;
// No real pid reaches this (Linux caps pid_max at 2^22): a LOCK left by an owner long gone.
const DEAD_PID = '999999999';

let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'shoal-dirlock-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
function freshDir(lockContent?: string): string {
  const dir = join(root, `d${dirs++}`);
  mkdirSync(dir);
  if (lockContent !== undefined) writeFileSync(join(dir, 'LOCK'), lockContent);
  return dir;
}

/** A lock-contender child process driven line by line. */
class Contender {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  readonly pid: number;
  private readonly lines: Interface;
  private readonly pending: ((line: string) => void)[] = [];
  private readonly exited: Promise<unknown>;

  private constructor(child: ChildProcessByStdio<Writable, Readable, null>) {
    this.child = child;
    this.pid = child.pid as number;
    this.exited = new Promise((done) => child.once('exit', done));
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (line) => this.pending.shift()?.(line));
  }

  static async start(): Promise<Contender> {
    const c = new Contender(spawn(...nodeCommand([FIXTURE]), { stdio: ['pipe', 'pipe', 'inherit'] }));
    const ready = await c.next();
    expect(ready).toBe(`ready ${c.pid}`);
    return c;
  }

  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pending.push(resolve);
      this.exited.then(() => reject(new Error(`contender ${this.pid} exited`)));
    });
  }

  ask(line: string): Promise<string> {
    const answer = this.next();
    this.child.stdin.write(`${line}\n`);
    return answer;
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
  }
}

describe('two processes opening one directory at once', () => {
  it(`exactly one wins, in each of ${TRIALS} trials (fresh directories and stale LOCK files)`, async () => {
    const a = await Contender.start();
    const b = await Contender.start();
    const outcomes: string[] = [];
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        // Alternate the two races the lock must survive: both creating LOCK, and both taking
        // over a LOCK its owner left behind.
        const dir = freshDir(trial % 2 === 0 ? undefined : DEAD_PID);
        const startAt = performance.timeOrigin + performance.now() + 30;
        const answers = await Promise.all([a.ask(`lock ${dir} ${startAt}`), b.ask(`lock ${dir} ${startAt}`)]);
        const winners = answers.filter((x) => x === 'won').length;
        outcomes.push(`${winners} won (${answers.join(', ')}) in trial ${trial}, ${trial % 2 === 0 ? 'fresh' : 'stale LOCK'}`);
        for (const answer of answers) expect(answer === 'won' || answer.startsWith('locked ')).toBe(true);
        await Promise.all([a.ask('release'), b.ask('release')]);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const doubleWins = outcomes.filter((o) => !o.startsWith('1 won'));
    expect(doubleWins, `${doubleWins.length} of ${TRIALS} trials without exactly one winner`).toEqual([]);
  });
});

describe('a LOCK file is only informational', () => {
  it('a LOCK naming a live process that does not hold the lock (pid 1, or our own) locks no one out', () => {
    for (const pid of ['1', String(process.pid)]) {
      const dir = freshDir(pid);
      const release = lockDirectory(dir);
      // The owner writes its pid for operators.
      expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(String(process.pid));
      release();
    }
  });

  it('an empty LOCK (an owner that died before writing its pid) locks no one out', () => {
    const release = lockDirectory(freshDir(''));
    release();
  });

  it('release leaves LOCK in place, and the directory can be locked again', () => {
    const dir = freshDir();
    lockDirectory(dir)();
    expect(existsSync(join(dir, 'LOCK'))).toBe(true);
    const again = lockDirectory(dir);
    again();
    again(); // releasing twice is harmless
  });
});

describe('an owner in another process', () => {
  it('refuses the directory while it lives, naming its pid, and releases it when killed with SIGKILL', async () => {
    const dir = freshDir();
    const holder = await Contender.start();
    try {
      expect(await holder.ask(`lock ${dir} 0`)).toBe('won');
      let err: unknown = null;
      try {
        lockDirectory(dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LockedError);
      expect((err as LockedError).details).toMatchObject({ pid: holder.pid });
      expect((err as LockedError).message).toContain(String(holder.pid));
    } finally {
      await holder.kill();
    }
    const release = lockDirectory(dir); // the kernel dropped the dead owner's lock
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(String(process.pid));
    release();
  });

  it('the other process sees LockedError while this one holds the directory', async () => {
    const dir = freshDir();
    const release = lockDirectory(dir);
    const rival = await Contender.start();
    try {
      expect(await rival.ask(`lock ${dir} 0`)).toBe(`locked ${process.pid}`);
    } finally {
      await rival.stop();
      release();
    }
  });
});

describe('one process', () => {
  it('refuses a second open of a directory it holds, by the same path or another, until released', () => {
    const dir = freshDir();
    const alias = join(root, `alias-${dirs}`);
    symlinkSync(dir, alias);
    const release = lockDirectory(dir);
    expect(() => lockDirectory(dir)).toThrow(LockedError);
    expect(() => lockDirectory(alias)).toThrow(LockedError);
    release();
    lockDirectory(alias)();
  });

  it('reports a directory it cannot create LOCK in as IoError naming the path', () => {
    const notADir = join(root, 'plain-file');
    writeFileSync(notADir, 'x');
    let err: unknown = null;
    try {
      lockDirectory(notADir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IoError);
    expect((err as IoError).message).toContain(join(notADir, 'LOCK'));
  });
});
