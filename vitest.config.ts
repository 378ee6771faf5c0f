import { defineConfig } from 'vitest/config';

// forks: each test file runs in its own process, so the native registry and the allocator
// counters one file measures are not shared with another file running beside it.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
