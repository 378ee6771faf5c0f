/** `shoal import DIR COLLECTION FILE`: creates a collection from a JSON Lines export. */
import { resolve } from 'node:path';

import { EXIT_OK, intOption, note, parse, print, type Command } from '../command.js';
import { withDatabase } from './open-db.js';

const usage = `Usage: shoal import DIR COLLECTION FILE [--shards N] [--batch-size N]

Creates collection COLLECTION in the data directory DIR (created if missing) from FILE, an
export in JSON Lines (docs/formats.md; "-" reads stdin): the header's settings, then every
record. All or nothing: if a line is bad the collection is removed again and the message names
the line. Streams: memory stays at one batch.

Options:
  --shards N        shards of the new collection (default: as the export's header says)
  --batch-size N    records added per batch (default 1000)
  -h, --help        this text

Exit: 0 imported; 1 failed (an existing collection, a bad line, ...); 2 usage;
3 DIR is open in another process.`;

export const importCommand: Command = {
  name: 'import',
  summary: 'create a collection from a JSON Lines export (FILE or - for stdin)',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, { shards: { type: 'string' }, 'batch-size': { type: 'string' } }, { min: 3, max: 3 });
    if (help) return print(usage).then(() => EXIT_OK);
    const [dir, name, file] = positionals as [string, string, string];
    const shards = intOption(values, 'shards');
    const batchSize = intOption(values, 'batch-size');
    return withDatabase(resolve(dir), false, async (db) => {
      const col = await db.importCollection(name, file === '-' ? process.stdin : resolve(file), {
        ...(shards === undefined ? {} : { shards }),
        ...(batchSize === undefined ? {} : { batchSize }),
      });
      note(`shoal: imported ${await col.count()} records into ${name}`);
      return EXIT_OK;
    });
  },
};
