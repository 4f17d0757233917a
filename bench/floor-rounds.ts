import readline from 'node:readline';

/**
 * How `npm run bench` drives a back-to-back floor: each line `N` on stdin runs
 * N rounds in a row and answers one line, the round times (ms) as JSON. The
 * bench interleaves blocks of floor and WSS rounds, so that the machine's
 * drift over the run hits both sides of the ratio alike.
 */
export function answerRoundRequests(round: () => Promise<void>, finish: () => Promise<void>): void {
  const lines = readline.createInterface({ input: process.stdin });
  let work = Promise.resolve();
  lines.on('line', (line) => {
    work = work.then(async () => {
      const times: number[] = [];
      for (let i = 0; i < Number(line); i++) {
        const t0 = performance.now();
        await round();
        times.push(performance.now() - t0);
      }
      process.stdout.write(`${JSON.stringify(times)}\n`);
    });
  });
  lines.on('close', () => void work.then(finish));
}
