import { describe, expect, it } from 'vitest';

import { assessHealth, type HealthInput } from '../../src/health.js';

const base: HealthInput = { level: 'normal', usedBytes: 10, limitBytes: 100, logFailed: false, overshoots: 0, collections: [{ name: 'a', failure: null }] };

describe('assessHealth', () => {
  it('is ok with no reasons when nothing is wrong, the soft level included', () => {
    expect(assessHealth(base)).toEqual({ status: 'ok', reasons: [] });
    expect(assessHealth({ ...base, level: 'soft' })).toEqual({ status: 'ok', reasons: [] });
  });

  it('is degraded at the hard level, naming the bytes', () => {
    const h = assessHealth({ ...base, level: 'hard', usedBytes: 94 });
    expect(h.status).toBe('degraded');
    expect(h.reasons).toEqual([expect.stringContaining('hard level (94 of 100 bytes)')]);
  });

  it('is critical at the emergency level and when the log failed', () => {
    expect(assessHealth({ ...base, level: 'emergency' }).status).toBe('critical');
    const h = assessHealth({ ...base, logFailed: true });
    expect(h).toEqual({ status: 'critical', reasons: [expect.stringContaining('write-ahead log failed')] });
  });

  it('is degraded for a failed collection or an overshoot, and keeps the worst status with every reason', () => {
    expect(assessHealth({ ...base, collections: [{ name: 'a', failure: 'checksum mismatch in x.seg' }] })).toEqual({
      status: 'degraded', reasons: ['collection "a" is failed: checksum mismatch in x.seg'],
    });
    expect(assessHealth({ ...base, overshoots: 2 }).status).toBe('degraded');
    const h = assessHealth({ ...base, overshoots: 1, logFailed: true, level: 'hard' });
    expect(h.status).toBe('critical');
    expect(h.reasons).toHaveLength(3);
  });
});
