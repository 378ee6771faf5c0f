/** Piscina worker for bench/diag/dispatch.mjs: shoal's own search task, plus which thread ran it and when. */
import { threadId } from 'node:worker_threads';
import { search as shoalSearch } from '../../dist/pool/worker.js';

const clock = () => performance.timeOrigin + performance.now();

export function search(task) {
  const t0 = clock();
  const reply = shoalSearch(task);
  return { reply, threadId, t0, t1: clock() };
}
