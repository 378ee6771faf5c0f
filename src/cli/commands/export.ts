/** `shoal export DIR COLLECTION [--out FILE]`: a collection as JSON Lines (docs/formats.md). */
import { resolve } from 'node:path';

import { EXIT_OK, intOption, note, parse, print, type Command } from '../command.js';
import { withDatabase } from './open-db.js';

const usage = `Usage: shoal export DIR COLLECTION [--out FILE] [--batch-size N]

Writes collection COLLECTION of the data directory DIR as JSON Lines: a header record with
the collection's settings, then one {"id", "vector"} record per line (format: docs/formats.md),
floats exact to the bit. Streams: memory stays at one batch.

Options:
  --out FILE        write to FILE (replaced) instead of stdout
  --batch-size N    records read per batch (default 1000)
  -h, --help        this text

Takes the directory's lock: DIR must not be open in another process (exit 3); from a process
that has it open, col.export() does the same while it serves.
Exit: 0 written; 1 failed (the message names why); 2 usage; 3 DIR is open elsewhere.`;

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a collection as JSON Lines (stdout or --out FILE)',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, { out: { type: 'string', short: 'o' }, 'batch-size': { type: 'string' } }, { min: 2, max: 2 });
    if (help) return print(usage).then(() => EXIT_OK);
    const [dir, name] = positionals as [string, string];
    const batchSize = intOption(values, 'batch-size');
    const out = values['out'] as string | undefined;
    return withDatabase(resolve(dir), true, async (db) => {
      const report = await db.getCollection(name).export(out === undefined ? process.stdout : resolve(out), batchSize === undefined ? {} : { batchSize });
      if (out !== undefined) note(`shoal: exported ${report.records} records of ${name} to ${resolve(out)}`);
      return EXIT_OK;
    });
  },
};
