// The service state machine against a fake advapi32: the exact SetServiceStatus
// sequence for each way a service starts and stops, and what the main thread is told.
import t from 'tap';
import {
  ERROR_CALL_NOT_IMPLEMENTED,
  ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
  ERROR_SERVICE_CANNOT_ACCEPT_CTRL,
  NO_ERROR,
  SERVICE_CONTROL_INTERROGATE,
  SERVICE_CONTROL_SHUTDOWN,
  SERVICE_CONTROL_STOP,
  type ServiceControlApi,
  type ServiceStatus,
} from '../../src/windows-service/advapi32.js';
import { EXIT, SERVICE_TIMING, ServiceController, type Timing, type ToMain } from '../../src/windows-service/controller.js';

const SERVICE_CONTROL_PAUSE = 2;

/** Statuses as `sc query` would print them, with what matters for each. */
const STATE: Record<number, string> = { 1: 'STOPPED', 2: 'START_PENDING', 3: 'STOP_PENDING', 4: 'RUNNING' };
const show = (s: ServiceStatus) =>
  `${STATE[s.currentState]} accepts=${s.controlsAccepted} exit=${s.win32ExitCode}/${s.serviceSpecificExitCode} checkpoint=${s.checkPoint} hint=${s.waitHint}`;

/** The service control manager as the controller sees it: ServiceMain and controls on later turns, the dispatcher returning after STOPPED. */
class FakeScm implements ServiceControlApi {
  statuses: string[] = [];
  dispatcherError = NO_ERROR;
  handlerError = NO_ERROR;
  private handler?: (control: number) => number;
  private finish?: (error: number) => void;

  runDispatcher(_name: string, serviceMain: () => void): Promise<number> {
    if (this.dispatcherError !== NO_ERROR) return Promise.resolve(this.dispatcherError);
    setImmediate(serviceMain);
    return new Promise((resolve) => (this.finish = resolve));
  }
  registerHandler(_name: string, handler: (control: number) => number): number {
    this.handler = handler;
    return this.handlerError;
  }
  setStatus(status: ServiceStatus): number {
    this.statuses.push(show(status));
    if (status.currentState === 1) setImmediate(() => this.finish!(NO_ERROR));
    return NO_ERROR;
  }
  control(control: number): number {
    return this.handler!(control);
  }
}

function setup(timing: Timing = SERVICE_TIMING) {
  const scm = new FakeScm();
  const told: ToMain[] = [];
  const ended: string[] = [];
  const waiters: [ToMain['type'], () => void][] = [];
  const controller = new ServiceController(scm, {
    name: 'nhiicc',
    timing,
    toMain: (m) => {
      told.push(m);
      for (const [type, resolve] of waiters) if (type === m.type) resolve();
    },
    endProcess: (reason) => ended.push(reason),
  });
  /** Resolves when the main thread has been told `type`. */
  const until = (type: ToMain['type']) =>
    told.some((m) => m.type === type) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push([type, resolve]));
  return { scm, told, ended, controller, until };
}

const START_PENDING = 'START_PENDING accepts=0 exit=0/0 checkpoint=1 hint=30000';
const RUNNING = 'RUNNING accepts=5 exit=0/0 checkpoint=0 hint=0';
const STOP_PENDING = 'STOP_PENDING accepts=0 exit=0/0 checkpoint=1 hint=10000';
const STOPPED = 'STOPPED accepts=0 exit=0/0 checkpoint=0 hint=0';

t.test('start, then STOP: START_PENDING, RUNNING, STOP_PENDING, STOPPED; then the dispatcher returns', async (t) => {
  const { scm, told, controller, until } = setup();
  controller.run();
  await until('start');
  t.same(scm.statuses, [START_PENDING], 'START_PENDING before the main thread is told to serve');
  controller.fromMain({ type: 'progress' });
  controller.fromMain({ type: 'running' });
  t.equal(scm.control(SERVICE_CONTROL_STOP), NO_ERROR, 'STOP is answered at once');
  t.same(told.at(-1), { type: 'stop', control: 'stop' });
  controller.fromMain({ type: 'stopped', exitCode: EXIT.ok });
  await until('done');
  t.same(scm.statuses, [START_PENDING, 'START_PENDING accepts=0 exit=0/0 checkpoint=2 hint=30000', RUNNING, STOP_PENDING, STOPPED]);
  t.same(
    told.map((m) => m.type),
    ['start', 'stop', 'done'],
  );
});

t.test('INTERROGATE reports the current status again and changes nothing', async (t) => {
  const { scm, told, controller, until } = setup();
  controller.run();
  await until('start');
  controller.fromMain({ type: 'running' });
  t.equal(scm.control(SERVICE_CONTROL_INTERROGATE), NO_ERROR);
  t.same(scm.statuses, [START_PENDING, RUNNING, RUNNING]);
  t.same(
    told.map((m) => m.type),
    ['start'],
  );
});

t.test('SHUTDOWN stops like STOP, and the main thread hears which', async (t) => {
  const { scm, told, controller, until } = setup();
  controller.run();
  await until('start');
  controller.fromMain({ type: 'running' });
  t.equal(scm.control(SERVICE_CONTROL_SHUTDOWN), NO_ERROR);
  t.same(told.at(-1), { type: 'stop', control: 'shutdown' });
  t.equal(scm.control(SERVICE_CONTROL_STOP), NO_ERROR, 'a second stop while stopping is fine');
  controller.fromMain({ type: 'stopped', exitCode: EXIT.ok });
  await until('done');
  t.same(scm.statuses, [START_PENDING, RUNNING, STOP_PENDING, STOPPED]);
  t.equal(told.filter((m) => m.type === 'stop').length, 1, 'the main thread is told to stop once');
});

t.test('a failing start: START_PENDING, then STOPPED with a service-specific exit code', async (t) => {
  const { scm, told, controller, until } = setup();
  controller.run();
  await until('start');
  controller.fromMain({ type: 'stopped', exitCode: EXIT.startFailed });
  await until('done');
  t.same(scm.statuses, [START_PENDING, 'STOPPED accepts=0 exit=1066/1 checkpoint=0 hint=0'], 'ERROR_SERVICE_SPECIFIC_ERROR, code 1');
  controller.fromMain({ type: 'running' });
  t.equal(scm.statuses.length, 2, 'nothing after STOPPED');
  t.same(
    told.map((m) => m.type),
    ['start', 'done'],
  );
});

t.test('controls the service does not take: STOP while starting, PAUSE', async (t) => {
  const { scm, told, controller, until } = setup();
  controller.run();
  await until('start');
  t.equal(scm.control(SERVICE_CONTROL_STOP), ERROR_SERVICE_CANNOT_ACCEPT_CTRL, 'STOP during START_PENDING');
  controller.fromMain({ type: 'running' });
  t.equal(scm.control(SERVICE_CONTROL_PAUSE), ERROR_CALL_NOT_IMPLEMENTED, 'PAUSE');
  t.same(scm.statuses, [START_PENDING, RUNNING]);
  t.same(
    told.map((m) => m.type),
    ['start'],
  );
});

t.test('started by hand: the dispatcher fails with 1063, no status is reported', async (t) => {
  const { scm, told, controller, until } = setup();
  scm.dispatcherError = ERROR_FAILED_SERVICE_CONTROLLER_CONNECT;
  controller.run();
  await until('not-a-service');
  t.same(scm.statuses, []);
  t.same(told, [{ type: 'not-a-service' }]);
});

t.test('other dispatcher and handler failures are reported with their code', async (t) => {
  const a = setup();
  a.scm.dispatcherError = 5;
  a.controller.run();
  await a.until('failed');
  t.same(a.told, [{ type: 'failed', message: 'StartServiceCtrlDispatcherW failed (error 5)' }]);

  const b = setup();
  b.scm.handlerError = 1060;
  b.controller.run();
  await b.until('failed');
  t.same(b.told, [{ type: 'failed', message: 'RegisterServiceCtrlHandlerExW failed (error 1060)' }]);
  t.same(b.scm.statuses, [], 'no status without a handler');
});

t.test('deadlines: a main thread that never serves, or never finishes closing, is ended after STOPPED', async (t) => {
  const timing = { startMs: 40, stopMs: 40 };
  const start = setup(timing);
  start.controller.run();
  await start.until('done');
  t.same(start.scm.statuses, ['START_PENDING accepts=0 exit=0/0 checkpoint=1 hint=40', 'STOPPED accepts=0 exit=1066/3 checkpoint=0 hint=0']);
  t.match(start.ended, [/serving did not start in time \(no progress for 40 ms\)/]);

  const stop = setup(timing);
  stop.controller.run();
  await stop.until('start');
  stop.controller.fromMain({ type: 'running' });
  stop.scm.control(SERVICE_CONTROL_STOP);
  await stop.until('done');
  t.same(stop.scm.statuses.slice(2), ['STOP_PENDING accepts=0 exit=0/0 checkpoint=1 hint=40', 'STOPPED accepts=0 exit=1066/4 checkpoint=0 hint=0']);
  t.match(stop.ended, [/serving did not stop in time/]);
  stop.controller.fromMain({ type: 'stopped', exitCode: EXIT.ok });
  t.equal(stop.scm.statuses.length, 4, 'a late "stopped" from the main thread changes nothing');

  const onTime = setup(timing);
  onTime.controller.run();
  await onTime.until('start');
  onTime.controller.fromMain({ type: 'running' });
  await new Promise((r) => setTimeout(r, 80));
  t.same(onTime.ended, [], 'RUNNING clears the start deadline');

  const slow = setup({ startMs: 60, stopMs: 60 });
  slow.controller.run();
  await slow.until('start');
  await new Promise((r) => setTimeout(r, 40));
  slow.controller.fromMain({ type: 'progress' });
  await new Promise((r) => setTimeout(r, 40));
  t.same(slow.ended, [], 'each checkpoint gives the next step its own wait hint');
  await slow.until('done');
  t.equal(slow.ended.length, 1, 'and a step with no checkpoint is still ended');
});
