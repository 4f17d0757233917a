// A stand-in for advapi32's service calls, loaded by the service's control
// thread in place of the real ones (the `apiModule` of control-thread.ts).
// It plays the service control manager: ServiceMain comes on a later turn,
// as from the SCM's own thread; the dispatcher returns after STOPPED; the
// test sends controls over the BroadcastChannel "fake-scm"; every status
// and control is appended with its time to $FAKE_SCM_RECORD.
// Plain JS: worker threads do not get the test's TypeScript loader.
import fs from 'node:fs';
import { BroadcastChannel } from 'node:worker_threads';

const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063;
const SERVICE_STOPPED = 1;

export function loadServiceControl() {
  if (process.env.FAKE_SCM_BROKEN) throw new Error('advapi32.dll could not be loaded (as a test)');
  const record = (entry) => fs.appendFileSync(process.env.FAKE_SCM_RECORD, `${JSON.stringify({ t: Date.now(), thread: 'control', ...entry })}\n`);
  const channel = new BroadcastChannel('fake-scm');
  channel.unref();
  let handler;
  let finish;
  channel.onmessage = ({ data }) => {
    if (data.control !== undefined) record({ control: data.control, answer: handler(data.control) });
  };
  return {
    runDispatcher(_name, serviceMain) {
      if (process.env.FAKE_SCM_BY_HAND) return Promise.resolve(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT);
      setImmediate(serviceMain);
      return new Promise((resolve) => (finish = resolve));
    },
    registerHandler(_name, h) {
      handler = h;
      return 0;
    },
    setStatus(status) {
      record({ status });
      channel.postMessage({ status });
      if (status.currentState === SERVICE_STOPPED) setImmediate(() => finish(0));
      return 0;
    },
  };
}
