// `nhiicc serve --windows-service` as the CLI runs it (dist/, built), with
// fake-scm.mjs as the service control manager. Usage:
//   node service-process.mjs SCENARIO LOG_FILE CONFIG_DIR
// SCENARIO says what the "SCM" and this main thread do once the service is
// RUNNING (see below). Records go to $FAKE_SCM_RECORD like fake-scm.mjs's.
import fs from 'node:fs';
import https from 'node:https';
import { BroadcastChannel } from 'node:worker_threads';
import { serveAsWindowsService } from '../../dist/windows-service/serve.js';

const [scenario, logFile, configDir] = process.argv.slice(2);
const STOP = 1;
const INTERROGATE = 4;
const SHUTDOWN = 5;
const RUNNING = 4;

const record = (entry) => fs.appendFileSync(process.env.FAKE_SCM_RECORD, `${JSON.stringify({ t: Date.now(), thread: 'main', ...entry })}\n`);
const block = (ms) => {
  record({ blocking: ms });
  const end = Date.now() + ms;
  while (Date.now() < end);
  record({ unblocked: ms });
};

/** GET / as a browser would, trusting the service's CA: proves it serves. */
function page() {
  const port = Number(/"127\.0\.0\.1:(\d+)"/.exec(fs.readFileSync(logFile, 'utf8'))?.[1]);
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/', servername: 'iccert.nhi.gov.tw', headers: { host: `iccert.nhi.gov.tw:${port}` }, ca: fs.readFileSync(`${configDir}/ca.crt`) }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, trusted: body.includes('已確認為可信任服務') }));
      })
      .on('error', reject);
  });
}

const channel = new BroadcastChannel('fake-scm');
channel.unref();
const send = (control) => {
  record({ sent: control });
  channel.postMessage({ control });
};
let acted = false;
channel.onmessage = async ({ data }) => {
  if (data.status?.currentState !== RUNNING || acted) return;
  acted = true;
  switch (scenario) {
    case 'stop':
      record({ page: await page() });
      return send(STOP);
    case 'interrogate':
      send(INTERROGATE);
      return setTimeout(() => send(STOP), 50);
    case 'shutdown':
      return send(SHUTDOWN);
    case 'blocked-stop':
      send(STOP);
      return block(1500);
    case 'blocked-forever':
      send(STOP);
      return block(5000);
    case 'crash':
      setTimeout(() => {
        throw new Error('deliberate');
      });
      return;
  }
};

const noCard = { withCard: async () => Promise.reject(new Error('no card here')), status: () => ({ available: true, readers: [] }), close: async () => {} };
const timing = scenario === 'blocked-forever' ? { startMs: 30_000, stopMs: 1_000 } : undefined;
try {
  await serveAsWindowsService(
    { host: scenario === 'bad-host' ? '0.0.0.0' : '127.0.0.1', port: 0, configDir, logLevel: 'info', card: noCard },
    (err) => `could not start: ${err.message}`,
    { logFile, control: { apiModule: new URL('./fake-scm.mjs', import.meta.url).href, ...(timing ? { timing } : {}) } },
  );
} catch (err) {
  // As cli.ts does.
  process.stderr.write(`nhiicc: ${err.message}\n`);
  process.exit(1);
}
