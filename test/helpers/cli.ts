import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');

/**
 * NHIICC_TEST_BUNDLE=<dir> runs the CLI and service tests against the bundled
 * program in dir (`npm run bundle` writes dist/bundle) instead of tsc's
 * dist/; NHIICC_TEST_NODE runs it with another node (the packages' runtime).
 */
export const BUNDLE_DIR = process.env.NHIICC_TEST_BUNDLE ? path.resolve(REPO, process.env.NHIICC_TEST_BUNDLE) : undefined;
export const NODE = process.env.NHIICC_TEST_NODE || process.execPath;
export const CLI = BUNDLE_DIR ? path.join(BUNDLE_DIR, 'nhiicc.mjs') : path.join(REPO, 'dist', 'cli.js');
if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: ${BUNDLE_DIR ? 'npm run bundle' : 'npm run build'}`);

/** Which node runs the program, and what the tests run, for their output. */
export const NODE_LABEL = `Node ${NODE === process.execPath ? process.version : execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()}`;
export const PROGRAM = `${BUNDLE_DIR ? `the bundle in ${path.relative(REPO, BUNDLE_DIR) || '.'}` : 'tsc output in dist/'} on ${NODE_LABEL}`;

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
    execFile(NODE, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
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
  const [cmd, argv] = withoutPcscLibrary(NODE, [CLI, ...args]);
  return new Promise((resolve) => {
    execFile(cmd, argv, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
