/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The dashboard page in a real headless Chromium (Debian's `chromium` package, driven by
// playwright-core): it loads with no console errors, fetches nothing from outside the server,
// and shows live numbers that follow the database. Skipped, and reported as skipped, where no
// Chromium is installed (set SHOAL_CHROMIUM to its path if it is elsewhere).
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

import { chromium, type Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { createServer } from '../../src/server/app.js';
import { randomVectors } from '../support/data.js';
import { tempDir } from '../support/db.js';

// SHOAL_CHROMIUM, when set, is the only candidate (set it to a missing path to see the skip).
const CANDIDATES = process.env['SHOAL_CHROMIUM'] !== undefined ? [process.env['SHOAL_CHROMIUM']] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const executable = CANDIDATES.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
const title = executable === undefined
  ? 'SKIPPED: no Chromium found (apt-get install chromium, or set SHOAL_CHROMIUM): the dashboard was not tested in a browser'
  : 'loads with no console errors, fetches only from the server, and shows live numbers';

if (executable === undefined) console.warn(`test/browser/dashboard.test.ts: ${title}`);

describe('dashboard page in headless Chromium', () => {
  it.skipIf(executable === undefined)(title, async () => {
    const dir = tempDir();
    const db = await Shoal.open({ path: dir.path, memoryLimitBytes: '64MB', maintenanceIntervalMs: 0, threads: 2 });
    const app = await createServer(db);
    let browser: Browser | null = null;
    try {
      const docs = await db.createCollection('docs', { dim: 16, shards: 2 });
      await docs.add(Array.from({ length: 500 }, (_, i) => `d${i}`), randomVectors(500, 16, 7));
      await docs.query(randomVectors(4, 16, 8), { k: 5 });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

      browser = await chromium.launch({ executablePath: executable as string, headless: true, args: ['--no-sandbox'] });
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      page.on('request', (r) => {
        if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`outside request: ${r.url()}`);
      });

      await page.goto(`${base}/?interval=200`);
      await page.waitForFunction(() => Number(document.body.dataset['polls'] ?? 0) >= 1);
      const first = await page.evaluate(() => ({
        health: document.getElementById('health')?.textContent,
        used: Number(document.getElementById('used')?.dataset['bytes']),
        limit: document.getElementById('limit')?.textContent,
        hitrate: document.getElementById('hitrate')?.textContent,
        rows: [...document.querySelectorAll('#collections tbody tr')].map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)),
      }));
      const stats = db.stats();
      expect(first).toEqual({
        health: 'ok', used: stats.usedBytes, limit: '61.0 MiB', hitrate: `${(stats.hitRate * 100).toFixed(1)} %`, rows: [['docs', '500', '2 / 2']],
      });

      // Live: a new collection and more vectors show up on the page without a reload, and the
      // memory chart has been drawn.
      const more = await db.createCollection('more', { dim: 16 });
      await more.add(Array.from({ length: 50 }, (_, i) => `m${i}`), randomVectors(50, 16, 9));
      await page.waitForFunction(() => [...document.querySelectorAll('#collections tbody tr td:first-child')].some((td) => td.textContent === 'more'));
      const polls = await page.evaluate(() => Number(document.body.dataset['polls']));
      expect(polls).toBeGreaterThanOrEqual(2);
      const used = await page.evaluate(() => Number(document.getElementById('used')?.dataset['bytes']));
      expect(used).toBeGreaterThan(first.used);
      const drawn = await page.evaluate(() => {
        const c = document.getElementById('memory') as HTMLCanvasElement;
        const pixels = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] as number) > 0) painted++;
        return painted;
      });
      expect(drawn).toBeGreaterThan(1000); // limit, threshold and usage lines
      expect(problems).toEqual([]);
    } finally {
      await browser?.close();
      await app.close();
      await db.close();
      dir.remove();
    }
  }, 60_000);
});
