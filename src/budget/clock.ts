/** Time for the budget's decisions: injected, so tests drive TTL and recency without timers. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
