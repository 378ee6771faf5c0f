/** Piscina worker for bench/diag/shard-tasks.mjs: one task searches several segments in turn (shoal's search task, looped over handles). */
import { search as shoalSearch } from '../../dist/pool/worker.js';

export function searchAll(task) {
  for (let s = 0; s < task.handles.length; s++) {
    const reply = shoalSearch({ ...task, handle: task.handles[s], outLabels: task.outLabels[s], outDistances: task.outDistances[s] });
    if (!reply.ok) return reply;
  }
  return { ok: true, value: undefined };
}

export { search } from '../../dist/pool/worker.js';
