/**
 * Closing a database on SIGTERM/SIGINT inside an application (db.closeOnSignals).
 *
 * Order matters in an HTTP app: the server must stop accepting and finish the requests it has
 * before the database closes, or those requests fail with ClosedError (503). So the caller's
 * shutdown hooks run first, one after another, then the database closes.
 *
 * Afterwards the signal is raised again only when nobody else listens for it, so that a process
 * with no other plan dies of the signal as it would have without us (exit status 128+n). When
 * the application has its own listener, that listener already ran for this delivery and owns
 * the decision to exit; raising the signal again would run it a second time.
 */

/** A step of an orderly shutdown, given the signal that started it. */
export type ShutdownHook = (signal: NodeJS.Signals) => unknown;

export interface ShutdownOptions {
  /** Default ['SIGTERM', 'SIGINT']. */
  readonly signals?: readonly NodeJS.Signals[];
  /**
   * Run in order before the database closes, each awaited: e.g. `() => app.close()` (stop
   * accepting, drain requests in flight). A hook that throws is reported as a warning and the
   * shutdown goes on.
   */
  readonly hooks?: readonly ShutdownHook[];
}

/** What the signal handler needs from its environment (the real process, or a fake in tests). */
export interface SignalTarget {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  listenerCount(signal: NodeJS.Signals): number;
  kill(pid: number, signal: NodeJS.Signals): unknown;
  emitWarning(message: string, type: string): void;
  readonly pid: number;
}

export function normalizeShutdownOptions(options: readonly NodeJS.Signals[] | ShutdownOptions | undefined): Required<ShutdownOptions> {
  if (Array.isArray(options)) return { signals: options as readonly NodeJS.Signals[], hooks: [] };
  const o = (options ?? {}) as ShutdownOptions;
  return { signals: o.signals ?? ['SIGTERM', 'SIGINT'], hooks: o.hooks ?? [] };
}

/** Installs the handlers; returns a function that removes them. */
export function closeOnSignals(
  close: () => Promise<void>,
  options: Required<ShutdownOptions>,
  target: SignalTarget = process,
): () => void {
  const warn = (what: string, signal: NodeJS.Signals, err: unknown): void =>
    target.emitWarning(`shoal: ${what} on ${signal} failed: ${(err as Error)?.message ?? String(err)}`, 'ShoalWarning');
  const handler = (signal: NodeJS.Signals): void => {
    // First signal only: a second one meets the default action (or the app's own listener),
    // which is how an operator forces a stuck shutdown.
    remove();
    void (async () => {
      for (const hook of options.hooks) {
        try {
          await hook(signal);
        } catch (err) {
          warn('a shutdown hook', signal, err);
        }
      }
      await close().catch((err: unknown) => warn('close', signal, err));
      if (target.listenerCount(signal) === 0) target.kill(target.pid, signal);
    })();
  };
  const remove = (): void => {
    for (const signal of options.signals) target.off(signal, handler);
  };
  for (const signal of options.signals) target.on(signal, handler);
  return remove;
}
