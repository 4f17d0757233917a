import fs from 'node:fs';
import path from 'node:path';

export interface RotatingFileOptions {
  /** The current file is rotated before a write would take it past this size. */
  maxBytes?: number;
  /** How many rotated files (`name.1` newest … `name.N` oldest) are kept besides the current one; at least 1. */
  keep?: number;
}

/** A pino destination. */
export interface RotatingFile {
  write(chunk: string): void;
  close(): void;
}

const MiB = 1024 * 1024;

/**
 * An append-only log file rotated by size: `name` becomes `name.1`, `name.1`
 * becomes `name.2`, and so on; the oldest is dropped. Writes are synchronous:
 * a service's log is small, and a line written before the process ends is
 * on disk. write() never throws: a full disk must not stop the service, and
 * on Windows a program reading the log can keep it from being renamed for a
 * while (it is then appended to and rotated later).
 */
export function openRotatingFile(file: string, { maxBytes = 5 * MiB, keep = 3 }: RotatingFileOptions = {}): RotatingFile {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let fd = fs.openSync(file, 'a');
  let size = fs.fstatSync(fd).size;
  let limit = maxBytes;

  const shift = () => {
    for (let i = keep - 1; i >= 1; i--) {
      try {
        fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    fs.renameSync(file, `${file}.1`);
  };

  const rotate = () => {
    fs.closeSync(fd);
    try {
      shift();
      limit = maxBytes;
    } catch {
      limit = size + Math.max(1, Math.floor(maxBytes / 4));
    }
    fd = fs.openSync(file, 'a');
    size = fs.fstatSync(fd).size;
  };

  return {
    write(chunk) {
      const bytes = Buffer.byteLength(chunk);
      try {
        if (size > 0 && size + bytes > limit) rotate();
        fs.writeSync(fd, chunk);
        size += bytes;
      } catch {
        // Dropped: see above.
      }
    },
    close() {
      fs.closeSync(fd);
    },
  };
}
