/**
 * Budget events on node:diagnostics_channel, for tracers and APM agents that subscribe by channel
 * name without a reference to the database. Each message is the db.on() payload plus `path`,
 * the data directory, so one subscriber can tell databases apart. Publishing costs one property
 * read when nobody subscribes.
 */
import { channel, type Channel } from 'node:diagnostics_channel';

/** Event name (db.on) -> channel name. Documented in docs/operations.md; names are API. */
export const CHANNELS = {
  loaded: 'shoal:load',
  evicted: 'shoal:evict',
  rejected: 'shoal:reject',
  threshold: 'shoal:threshold',
  reconfigured: 'shoal:reconfigure',
} as const;

export type ChannelEvent = keyof typeof CHANNELS;

const channels = new Map<string, Channel>(Object.entries(CHANNELS).map(([event, name]) => [event, channel(name)]));

/** Publishes `payload` (with the database's path) on the event's channel, if anyone listens. */
export function publish(event: string, path: string, payload: object): void {
  const ch = channels.get(event);
  if (ch?.hasSubscribers === true) ch.publish({ path, ...payload });
}
