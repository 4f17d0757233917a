import fs from 'node:fs';
import path from 'node:path';

/**
 * One fatal line in the logger's format, appended without a logger: for the
 * control thread ending a process whose main thread does not answer, and for
 * a service that fails before its logger exists. Best effort: there is
 * nowhere else to report a failure to write it.
 */
export function lastWords(file: string, msg: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, `${JSON.stringify({ level: 60, time: Date.now(), app: 'nhiicc', msg })}\n`);
  } catch {
    // See above.
  }
}
