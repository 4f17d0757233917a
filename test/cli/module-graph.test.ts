// Which of our modules each CLI command loads: the commands share their
// failure helpers through src/cli/fail.ts, so none loads another's code.
import path from 'node:path';
import * as esbuild from 'esbuild';
import t from 'tap';

const REPO = path.resolve(import.meta.dirname, '..', '..');

/** Our source files `entry` loads at start (static imports; packages left out). */
async function loads(entry: string): Promise<string[]> {
  const result = await esbuild.build({
    entryPoints: [path.join(REPO, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs).map((f) => path.relative(REPO, path.resolve(REPO, f)));
}

for (const command of ['hosts', 'doctor', 'browser-policy']) {
  t.test(`nhiicc ${command} does not load the cert command`, async (t) => {
    const files = await loads(`src/cli/${command}-command.ts`);
    t.ok(files.includes(`src/cli/${command}-command.ts`), 'the graph holds the command itself');
    t.notOk(files.includes('src/cli/cert-command.ts'), files.filter((f) => f.startsWith('src/cli/')).join(', '));
  });
}
