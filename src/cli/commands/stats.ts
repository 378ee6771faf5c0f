/** `shoal stats DIR`: JSON facts about a data directory, read from its files (tools/inspect.ts). */
import { inspectDirectory } from '../../tools/inspect.js';
import { directoryArg, EXIT_OK, parse, print, type Command } from '../command.js';
import { failure } from './open-db.js';

const usage = `Usage: shoal stats DIR [--compact]

Prints JSON facts about the data directory DIR: every collection (name, count, dim, space,
shards, bytesOnDisk, settings, unflushed log writes, per-shard files), the log, leftovers and
the bytes on disk. Reads the files only: takes no lock and writes nothing.

DIR may be open in another process: its figures are then those of its last flush (counts
leave out writes still only in the log; see unflushedWrites), and "live" names the process.

Options:
  --compact   one line of JSON instead of indented
  -h, --help  this text

Exit: 0 printed; 1 the manifest cannot be read (run shoal verify); 2 usage.`;

export const stats: Command = {
  name: 'stats',
  summary: 'JSON facts about a data directory (collections, counts, bytes on disk), read-only',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, { compact: { type: 'boolean' } }, { min: 1, max: 1 });
    if (help) return print(usage).then(() => EXIT_OK);
    const dir = directoryArg(positionals[0] as string);
    try {
      const facts = inspectDirectory(dir);
      await print(JSON.stringify(facts, null, values['compact'] === true ? undefined : 2));
      return EXIT_OK;
    } catch (err) {
      return failure(err, dir);
    }
  },
};
