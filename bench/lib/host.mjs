/** The facts about this machine that every results file starts with. */
import os from 'node:os';

export function hostFacts() {
  return {
    date: new Date().toISOString(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemGiB: os.totalmem() / 2 ** 30,
    node: process.version,
  };
}
