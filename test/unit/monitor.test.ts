// The pieces of `shoal monitor`'s frame (the command itself runs in test/integration/cli-serve.test.ts).
import { describe, expect, it } from 'vitest';

import { formatBytes, memoryBar } from '../../src/cli/commands/monitor.js';

describe('monitor frame', () => {
  it('draws used memory with every threshold visible, also under the used part', () => {
    expect(memoryBar(50, 100, [0.8, 0.9], 10)).toBe('[#####...||]');
    expect(memoryBar(95, 100, [0.8, 0.9], 10)).toBe('[########||]');
    expect(memoryBar(1, Number.MAX_SAFE_INTEGER, [0.8], 10)).toBe('');
  });

  it('formats bytes in binary units and says when there is no limit', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(20 * 2 ** 20), formatBytes(Number.MAX_SAFE_INTEGER)]).toEqual(['512 B', '1.5 KiB', '20.0 MiB', 'no limit']);
  });
});
