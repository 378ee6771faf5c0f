/** `shoal backup DIR DEST`: a consistent copy of a data directory (db.backup). */
import { resolve } from 'node:path';

import { EXIT_OK, note, parse, print, type Command } from '../command.js';
import { withDatabase } from './open-db.js';

const usage = `Usage: shoal backup DIR DEST [--quiet]

Copies the database in DIR to DEST (a new or empty directory) with db.backup(): segment and
id files, and the log up to the moment of the copy, fsynced, the manifest last. The copy opens
with Shoal.open (or shoal verify DEST to check it). Prints a JSON report; progress goes to
stderr.

Takes the directory's lock: DIR must not be open in another process (exit 3). To back up a
database while it serves, call db.backup(dest) in the process that has it open.

Options:
  --quiet     no progress on stderr
  -h, --help  this text

Exit: 0 copied; 1 failed (DEST not empty, an I/O error, ...); 2 usage; 3 DIR is open elsewhere.`;

export const backup: Command = {
  name: 'backup',
  summary: 'copy a data directory to DEST, consistent and fsynced (opens with Shoal.open)',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, { quiet: { type: 'boolean', short: 'q' } }, { min: 2, max: 2 });
    if (help) return print(usage).then(() => EXIT_OK);
    const [dir, dest] = positionals as [string, string];
    return withDatabase(resolve(dir), true, async (db) => {
      let shown = -1;
      const report = await db.backup(resolve(dest), {
        onProgress: ({ done, total }) => {
          const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
          if (values['quiet'] === true || percent === shown) return;
          shown = percent;
          note(`shoal: backup ${percent}% (${done} of ${total} bytes)`);
        },
      });
      await print(JSON.stringify(report, null, 2));
      return EXIT_OK;
    });
  },
};
