import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI. Asynchronous on purpose: the virtual card lives in the
 * test process and must keep answering while the CLI reads it.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A command line that runs `cmd args` as on a machine without the PC/SC
 * library: in a mount namespace of its own, the library file is covered by
 * /dev/null, so loading it fails as if libpcsclite1 were not installed.
 * Needs root (unshare, mount), like the rest of the real-stack tests.
 */
export function withoutPcscLibrary(cmd: string, args: string[]): [string, string[]] {
  const lib = /libpcsclite\.so\.1 \(.*\) => (\S+)/.exec(execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }))?.[1];
  if (!lib) throw new Error('libpcsclite.so.1 is not installed here: nothing to hide (apt-get install libpcsclite1)');
  const real = fs.realpathSync(lib);
  return ['unshare', ['-m', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$@"', real, cmd, ...args]];
}

/** runCli, on a machine without the PC/SC library (withoutPcscLibrary). */
export function runCliWithoutPcscLibrary(args: string[]): Promise<CliResult> {
  const [cmd, argv] = withoutPcscLibrary(process.execPath, [CLI, ...args]);
  return new Promise((resolve) => {
    execFile(cmd, argv, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
