// The Windows service's log file: rotated by size, a fixed number of files
// kept, every line kept whole, and a write that cannot rotate still written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { windowsServiceLogFile } from '../../src/config/paths.js';
import { createLogger } from '../../src/log.js';
import { openRotatingFile } from '../../src/util/rotating-file.js';

function scratch(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-log-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined);

t.test('the log lives under ProgramData', async (t) => {
  t.equal(windowsServiceLogFile({ ProgramData: 'D:\\ProgramData' }), 'D:\\ProgramData\\nhiicc\\logs\\nhiicc.log');
  t.equal(windowsServiceLogFile({}), 'C:\\ProgramData\\nhiicc\\logs\\nhiicc.log');
});

t.test('rotates by size and keeps `keep` older files, newest first', async (t) => {
  const file = path.join(scratch(t), 'logs', 'nhiicc.log');
  const log = openRotatingFile(file, { maxBytes: 100, keep: 2 });
  // 40-byte lines: two fit in 100 bytes, the third starts a new file.
  const line = (n: number) => `${String(n).padStart(39, '0')}\n`;
  for (let n = 1; n <= 9; n++) log.write(line(n));
  log.close();
  t.equal(read(file), line(9), 'current: the last line');
  t.equal(read(`${file}.1`), line(7) + line(8));
  t.equal(read(`${file}.2`), line(5) + line(6));
  t.equal(read(`${file}.3`), undefined, 'lines 1 to 4 were dropped with the oldest files');
  t.same(fs.readdirSync(path.dirname(file)).sort(), ['nhiicc.log', 'nhiicc.log.1', 'nhiicc.log.2']);
});

t.test('appends to what an earlier run left, counting its size', async (t) => {
  const file = path.join(scratch(t), 'nhiicc.log');
  fs.writeFileSync(file, 'x'.repeat(90));
  const log = openRotatingFile(file, { maxBytes: 100, keep: 1 });
  log.write('a'.repeat(20));
  log.close();
  t.equal(read(file), 'a'.repeat(20));
  t.equal(read(`${file}.1`), 'x'.repeat(90));
});

t.test('a line longer than the limit is written whole, in a file of its own', async (t) => {
  const file = path.join(scratch(t), 'nhiicc.log');
  const log = openRotatingFile(file, { maxBytes: 10, keep: 3 });
  log.write('short\n');
  log.write(`${'L'.repeat(30)}\n`);
  log.write('next\n');
  log.close();
  t.equal(read(`${file}.2`), 'short\n');
  t.equal(read(`${file}.1`), `${'L'.repeat(30)}\n`);
  t.equal(read(file), 'next\n');
});

t.test('when rotation fails the line is still written, and rotation is tried again later', async (t) => {
  const dir = scratch(t);
  const file = path.join(dir, 'nhiicc.log');
  const log = openRotatingFile(file, { maxBytes: 100, keep: 1 });
  log.write('a'.repeat(90));
  // A directory where the rotated file goes: rename fails, as when a
  // reader holds the file on Windows.
  fs.mkdirSync(`${file}.1`);
  fs.writeFileSync(path.join(`${file}.1`, 'in-the-way'), '');
  log.write('b'.repeat(20));
  t.equal(read(file), 'a'.repeat(90) + 'b'.repeat(20), 'appended instead');
  fs.rmSync(`${file}.1`, { recursive: true });
  log.write('cccc');
  t.notOk(fs.existsSync(`${file}.1`), 'no new attempt until a quarter of the limit more was written');
  log.write('d'.repeat(20));
  log.close();
  t.equal(read(`${file}.1`), ['a'.repeat(90), 'b'.repeat(20), 'cccc'].join(''), 'then rotated');
  t.equal(read(file), 'd'.repeat(20));
});

t.test('a pino destination: the service logger writes JSON lines, with personal data redacted', async (t) => {
  const file = path.join(scratch(t), 'nhiicc.log');
  const out = openRotatingFile(file);
  const logger = createLogger('info', out);
  logger.info({ idNo: 'A123456789', reader: 'vpcd 0' }, 'command');
  out.close();
  const line = JSON.parse(read(file)!) as Record<string, unknown>;
  t.match(line, { app: 'nhiicc', msg: 'command', reader: 'vpcd 0', idNo: '[redacted]' });
  t.notMatch(read(file)!, /A123456789/);
});
