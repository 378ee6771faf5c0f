/** `shoal verify DIR`: checks every file's checksum and structure (tools/verify.ts). */
import { inspectLock } from '../../tools/inspect.js';
import { verifyDirectory } from '../../tools/verify.js';
import { directoryArg, EXIT_FAILED, EXIT_LOCKED, EXIT_OK, note, parse, print, type Command } from '../command.js';

const usage = `Usage: shoal verify DIR [--json]

Checks every file of the data directory DIR: the MANIFEST (header, checksum, structure), each
shard's id file (checksum, entries) and segment file (loaded in full: checksums and graph
structure), that they agree with each other and with the manifest, and every log record
(framing, checksum, LSN order). Leftover files are listed as warnings. Writes nothing.

DIR must not be open in another process (its files change under a live process); verify a
backup (shoal backup) of a live database instead.

Options:
  --json      print the report as JSON
  -h, --help  this text

Exit: 0 healthy; 1 damage found (each damaged file is named with what is wrong);
2 usage; 3 DIR is open in another process.`;

export const verify: Command = {
  name: 'verify',
  summary: "check every file's checksum and structure; exit 1 naming what is damaged",
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, { json: { type: 'boolean' } }, { min: 1, max: 1 });
    if (help) return print(usage).then(() => EXIT_OK);
    const dir = directoryArg(positionals[0] as string);
    const holder = inspectLock(dir);
    if (holder !== null) {
      note(`shoal: ${dir} is open in process ${holder.pid || '(unknown pid)'}; verify a closed directory or a backup of it (shoal backup)`);
      return EXIT_LOCKED;
    }
    const report = await verifyDirectory(dir);
    if (values['json'] === true) {
      await print(JSON.stringify(report, null, 2));
    } else {
      const lines = [`${dir}: ${report.healthy ? 'healthy' : `DAMAGED (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'})`}`];
      lines.push(`checked ${report.checked.files} files, ${report.checked.bytes} bytes`);
      for (const p of report.problems) lines.push(`DAMAGED ${p.file}: ${p.problem}`);
      for (const w of report.warnings) lines.push(`warning ${w}`);
      await print(lines.join('\n'));
    }
    return report.healthy ? EXIT_OK : EXIT_FAILED;
  },
};
