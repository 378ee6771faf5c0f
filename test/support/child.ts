/** Runs a fixture scenario in a child process, so a deadlocked database cannot hang the suite. */
import { spawn, type SpawnOptions } from 'node:child_process';
import { nodeCommand } from './node.js';

/**
 * Runs `node <script> ...args` and returns the JSON of its 'result <json>' line. Kills the child
 * and rejects with a 'hang' error if it has not exited after `timeoutMs`.
 */
export function runChild(script: string, args: readonly string[], timeoutMs: number, options: SpawnOptions = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(...nodeCommand([script, ...args]), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hang: child ${args.join(' ')} did not exit within ${timeoutMs} ms; stdout: ${stdout.slice(-500)}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('result '));
      if (line === undefined) reject(new Error(`child ${args.join(' ')} exited with ${code ?? signal} and no result; stderr: ${stderr.slice(-1500)}`));
      else resolve(JSON.parse(line.slice('result '.length)) as Record<string, unknown>);
    });
  });
}
