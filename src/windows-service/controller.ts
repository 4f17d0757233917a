import {
  ERROR_CALL_NOT_IMPLEMENTED,
  ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
  ERROR_SERVICE_CANNOT_ACCEPT_CTRL,
  ERROR_SERVICE_SPECIFIC_ERROR,
  NO_ERROR,
  SERVICE_ACCEPT_SHUTDOWN,
  SERVICE_ACCEPT_STOP,
  SERVICE_CONTROL_INTERROGATE,
  SERVICE_CONTROL_SHUTDOWN,
  SERVICE_CONTROL_STOP,
  SERVICE_RUNNING,
  SERVICE_START_PENDING,
  SERVICE_STOP_PENDING,
  SERVICE_STOPPED,
  type ServiceControlApi,
  type ServiceStatus,
} from './advapi32.js';

export const SERVICE_NAME = 'nhiicc';

/** Wait hints: how long each step of starting or stopping may take before the next checkpoint. */
export interface Timing {
  /** START_PENDING: past it with no checkpoint, the service gives up starting. */
  startMs: number;
  /** STOP_PENDING: past it, the process is ended without waiting for the close to finish. */
  stopMs: number;
}

/**
 * Starting has two steps (loading the app, then certificate, card layer and
 * listening), each well under Windows' default 30 s even on a slow first
 * boot. A stop has no limit of its own, but at system shutdown Windows waits
 * only a few seconds before ending service processes, and a close normally
 * takes milliseconds.
 */
export const SERVICE_TIMING: Timing = { startMs: 30_000, stopMs: 10_000 };

/**
 * Why the service stopped: dwServiceSpecificExitCode (with dwWin32ExitCode
 * ERROR_SERVICE_SPECIFIC_ERROR, shown by `sc query nhiicc`) and the process
 * exit code. The log file says more.
 */
export const EXIT = {
  ok: 0,
  /** Serving could not start: the port is taken, the configuration is wrong. */
  startFailed: 1,
  /** NODE_OPTIONS or NODE_PATH reached the service's environment. */
  foreignNodeEnvironment: 2,
  startTimeout: 3,
  stopTimeout: 4,
  /** An uncaught error in the main thread. */
  crashed: 5,
} as const;

/** What the control thread tells the main thread. */
export type ToMain =
  /** The service control manager started the service: serve. */
  | { type: 'start' }
  | { type: 'stop'; control: 'stop' | 'shutdown' }
  /** SERVICE_STOPPED is reported and the dispatcher returned: end the process now. */
  | { type: 'done' }
  /** Started by hand, not by the service control manager. */
  | { type: 'not-a-service' }
  | { type: 'failed'; message: string }
  | { type: 'warn'; message: string };

/** What the main thread tells the control thread. */
export type ToWorker = { type: 'progress' } | { type: 'running' } | { type: 'stopped'; exitCode: number };

export interface ControllerOptions {
  name: string;
  timing: Timing;
  toMain(message: ToMain): void;
  /** Ends the whole process at once: used when a deadline passed, after SERVICE_STOPPED is reported. */
  endProcess(reason: string): void;
}

const NOT_STARTED = 0;

/**
 * The service's side of the service control manager's protocol. It runs on
 * a thread of its own: controls are answered at once even while the main
 * thread is busy, and a main thread that stays busy past a deadline is ended
 * rather than left hanging (the SCM would otherwise wait on it for ever).
 */
export class ServiceController {
  private status: ServiceStatus = { currentState: NOT_STARTED, controlsAccepted: 0, win32ExitCode: 0, serviceSpecificExitCode: 0, checkPoint: 0, waitHint: 0 };
  private deadline: NodeJS.Timeout | undefined;
  /** What happens when the current pending state's wait hint passes with no new checkpoint. */
  private expiry: { exitCode: number; reason: string } | undefined;

  constructor(
    private readonly api: ServiceControlApi,
    private readonly options: ControllerOptions,
  ) {}

  /** Connects to the service control manager; the rest follows from its calls and the main thread's messages. */
  run(): void {
    const { toMain } = this.options;
    this.api.runDispatcher(this.options.name, () => this.serviceMain()).then(
      (error) => {
        clearTimeout(this.deadline);
        if (error === NO_ERROR) toMain({ type: 'done' });
        else if (error === ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) toMain({ type: 'not-a-service' });
        else toMain({ type: 'failed', message: `StartServiceCtrlDispatcherW failed (error ${error})` });
      },
      (err: Error) => toMain({ type: 'failed', message: `StartServiceCtrlDispatcherW failed: ${err.message}` }),
    );
  }

  fromMain(message: ToWorker): void {
    const state = this.status.currentState;
    switch (message.type) {
      case 'progress':
        if (state === SERVICE_START_PENDING || state === SERVICE_STOP_PENDING) {
          this.report({ checkPoint: this.status.checkPoint + 1 });
          this.arm();
        }
        break;
      case 'running':
        if (state === SERVICE_START_PENDING) {
          clearTimeout(this.deadline);
          this.report({ currentState: SERVICE_RUNNING, controlsAccepted: SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN, checkPoint: 0, waitHint: 0 });
        }
        break;
      case 'stopped':
        this.stopped(message.exitCode);
        break;
    }
  }

  private serviceMain(): void {
    const error = this.api.registerHandler(this.options.name, (control) => this.control(control));
    if (error !== NO_ERROR) {
      this.options.toMain({ type: 'failed', message: `RegisterServiceCtrlHandlerExW failed (error ${error})` });
      return;
    }
    this.pending(SERVICE_START_PENDING, this.options.timing.startMs, EXIT.startTimeout, 'serving did not start in time');
    this.options.toMain({ type: 'start' });
  }

  /** The HandlerEx: answers at once; the main thread does the work. */
  private control(control: number): number {
    switch (control) {
      case SERVICE_CONTROL_STOP:
      // Shutdown is handled like STOP (Wine never delivers it).
      case SERVICE_CONTROL_SHUTDOWN: {
        const state = this.status.currentState;
        if (state === SERVICE_STOP_PENDING) return NO_ERROR;
        if (state !== SERVICE_RUNNING) return ERROR_SERVICE_CANNOT_ACCEPT_CTRL;
        this.pending(SERVICE_STOP_PENDING, this.options.timing.stopMs, EXIT.stopTimeout, 'serving did not stop in time');
        this.options.toMain({ type: 'stop', control: control === SERVICE_CONTROL_STOP ? 'stop' : 'shutdown' });
        return NO_ERROR;
      }
      case SERVICE_CONTROL_INTERROGATE:
        this.report({});
        return NO_ERROR;
      default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
  }

  /** A pending state with its first checkpoint. */
  private pending(state: number, waitHint: number, exitCode: number, reason: string): void {
    this.report({ currentState: state, controlsAccepted: 0, checkPoint: 1, waitHint });
    this.expiry = { exitCode, reason };
    this.arm();
  }

  /**
   * The wait hint is the time until the next checkpoint: when it passes
   * with none, the process is ended after reporting STOPPED.
   */
  private arm(): void {
    const { waitHint } = this.status;
    const { exitCode, reason } = this.expiry!;
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => {
      this.stopped(exitCode);
      this.options.endProcess(`${reason} (no progress for ${waitHint} ms): the service reported STOPPED and ends its process`);
    }, waitHint);
  }

  private stopped(exitCode: number): void {
    clearTimeout(this.deadline);
    if (this.status.currentState === NOT_STARTED || this.status.currentState === SERVICE_STOPPED) return;
    this.report({
      currentState: SERVICE_STOPPED,
      controlsAccepted: 0,
      win32ExitCode: exitCode === EXIT.ok ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR,
      serviceSpecificExitCode: exitCode,
      checkPoint: 0,
      waitHint: 0,
    });
  }

  private report(change: Partial<ServiceStatus>): void {
    this.status = { ...this.status, ...change };
    const error = this.api.setStatus(this.status);
    if (error !== NO_ERROR) this.options.toMain({ type: 'warn', message: `SetServiceStatus failed (error ${error})` });
  }
}
