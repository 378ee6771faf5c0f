/**
 * How tests start another Node process: process.execPath, or, where Node runs under a user-mode
 * emulator (scripts/qemu-arm64.sh), with the emulator named in SHOAL_TEST_NODE_LAUNCHER in
 * front of it: the emulated node cannot exec another foreign binary by itself unless the
 * kernel's binfmt_misc is set up to, which containers often lack.
 */
export function nodeCommand(args: readonly string[]): [string, string[]] {
  const launcher = (process.env['SHOAL_TEST_NODE_LAUNCHER'] ?? '').split(' ').filter((w) => w !== '');
  const [first, ...rest] = launcher;
  if (first === undefined) return [process.execPath, [...args]];
  return [first, [...rest, process.execPath, ...args]];
}
