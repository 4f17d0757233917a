import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A machine-wide lock, so test processes that share one pcscd and the two
 * vpcd slots (or a fixed port) take turns instead of stealing each other's
 * cards. A lock whose holder died is taken over.
 */
export async function acquireLock(name: string, timeoutMs = 600_000): Promise<() => void> {
  const dir = path.join(os.tmpdir(), `nhiicc-${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
      const release = () => fs.rmSync(dir, { recursive: true, force: true });
      process.once('exit', release);
      return () => {
        process.off('exit', release);
        release();
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (holderIsDead(dir)) {
      fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`lock ${dir} still held after ${timeoutMs} ms`);
    if (!announced) {
      process.stderr.write(`# [testbed] waiting for ${dir} (another test process holds it)\n`);
      announced = true;
    }
    await sleep(100);
  }
}

function holderIsDead(dir: string): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
  } catch {
    // Between mkdir and writing the pid: give the holder a moment.
    try {
      return Date.now() - fs.statSync(dir).mtimeMs > 5000;
    } catch {
      return true;
    }
  }
  if (!pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
