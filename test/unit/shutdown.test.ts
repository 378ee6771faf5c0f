// db.closeOnSignals' handler against a fake process: the order of hooks and close, and when
// the signal is raised again. The real process is tested in test/integration/shutdown.test.ts.
import { EventEmitter } from 'node:events';

import { describe, expect, it } from 'vitest';

import { closeOnSignals, normalizeShutdownOptions, type SignalTarget } from '../../src/shutdown.js';

class FakeProcess extends EventEmitter implements SignalTarget {
  readonly pid = 4242;
  readonly kills: string[] = [];
  readonly warnings: string[] = [];
  kill(_pid: number, signal: NodeJS.Signals): void {
    this.kills.push(signal);
  }
  emitWarning(message: string): void {
    this.warnings.push(message);
  }
}

/** Resolves once every microtask queued so far (the handler's async steps) has run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('closeOnSignals', () => {
  it('runs the hooks in order, each awaited, then closes, then re-raises when nobody else listens', async () => {
    const p = new FakeProcess();
    const log: string[] = [];
    let releaseDrain: () => void = () => undefined;
    const drained = new Promise<void>((r) => (releaseDrain = r));
    closeOnSignals(async () => void log.push('close'), normalizeShutdownOptions({
      hooks: [(s) => void log.push(`stop accepting on ${s}`), async () => { await drained; log.push('drained'); }],
    }), p);
    p.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(log).toEqual(['stop accepting on SIGTERM']); // close waits for the drain
    releaseDrain();
    await settle();
    expect(log).toEqual(['stop accepting on SIGTERM', 'drained', 'close']);
    expect(p.kills).toEqual(['SIGTERM']);
    expect(p.listenerCount('SIGTERM') + p.listenerCount('SIGINT')).toBe(0);
  });

  it('does not re-raise while the application has its own listener (it would run twice)', async () => {
    const p = new FakeProcess();
    let appHandlerRuns = 0;
    p.on('SIGTERM', () => appHandlerRuns++);
    let closed = false;
    closeOnSignals(async () => void (closed = true), normalizeShutdownOptions(undefined), p);
    p.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect({ closed, kills: p.kills, appHandlerRuns }).toEqual({ closed: true, kills: [], appHandlerRuns: 1 });
  });

  it('reports a failing hook or close as a warning and still closes and re-raises', async () => {
    const p = new FakeProcess();
    closeOnSignals(() => Promise.reject(new Error('disk gone')), normalizeShutdownOptions({ signals: ['SIGINT'], hooks: [() => { throw new Error('boom'); }] }), p);
    p.emit('SIGINT', 'SIGINT');
    await settle();
    expect(p.warnings).toEqual(['shoal: a shutdown hook on SIGINT failed: boom', 'shoal: close on SIGINT failed: disk gone']);
    expect(p.kills).toEqual(['SIGINT']);
  });

  it('handles only the first signal; the remover takes the handlers away; a list of signals still works', async () => {
    const p = new FakeProcess();
    let closes = 0;
    const remove = closeOnSignals(async () => void closes++, normalizeShutdownOptions(['SIGUSR2']), p);
    expect(p.listenerCount('SIGUSR2')).toBe(1);
    expect(p.listenerCount('SIGTERM')).toBe(0);
    remove();
    expect(p.listenerCount('SIGUSR2')).toBe(0);
    closeOnSignals(async () => void closes++, normalizeShutdownOptions(undefined), p);
    p.emit('SIGTERM', 'SIGTERM');
    p.emit('SIGTERM', 'SIGTERM'); // no handler of ours any more
    await settle();
    expect(closes).toBe(1);
  });
});
