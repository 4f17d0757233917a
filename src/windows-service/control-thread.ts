import { Worker } from 'node:worker_threads';
import { windowsServiceLogFile } from '../config/paths.js';
import type { ControlWorkerData } from './control-worker.js';
import { SERVICE_NAME, SERVICE_TIMING, type Timing, type ToMain, type ToWorker } from './controller.js';

export interface ControlThreadOptions {
  logFile?: string;
  timing?: Timing;
  /** A module exporting loadServiceControl() in place of advapi32's (tests). */
  apiModule?: string;
}

export type StopRequest = { control: 'stop' | 'shutdown' } | { failure: string };

/** `serve --windows-service` run by hand: StartServiceCtrlDispatcherW failed with 1063. */
export class NotAServiceError extends Error {
  constructor() {
    super(
      'serve --windows-service is run by the Windows service control manager only; this process was started by hand (error 1063). ' +
        'Start the service with `sc.exe start nhiicc`, or serve in this console with `nhiicc serve`',
    );
  }
}

/** Once STOPPED is reported the dispatcher returns at once; this bounds the wait should it not. */
const DONE_GRACE_MS = 2_000;

/**
 * The main thread's handle on the service's control thread. The main thread
 * serves; the control thread talks to the service control manager.
 */
export class ControlThread {
  /** The service control manager started the service: serve. Rejects with NotAServiceError when started by hand. */
  readonly started: Promise<void>;
  /** Resolves when the service control manager asks to stop, or when the control thread failed. */
  readonly stopRequested: Promise<StopRequest>;
  /** Where the control thread's warnings go once a logger exists. */
  onWarning: (message: string) => void = () => {};

  private readonly worker: Worker;
  private alive = true;
  private exitCode = 0;

  constructor(options: ControlThreadOptions) {
    let start!: { resolve: () => void; reject: (err: Error) => void };
    let stop!: (request: StopRequest) => void;
    this.started = new Promise((resolve, reject) => (start = { resolve, reject }));
    this.started.catch(() => {}); // handled by whoever serves; unhandled if serving never began
    this.stopRequested = new Promise((resolve) => (stop = resolve));
    const fail = (message: string) => {
      start.reject(new Error(message));
      stop({ failure: message });
    };

    const workerData: ControlWorkerData = {
      name: SERVICE_NAME,
      timing: options.timing ?? SERVICE_TIMING,
      logFile: options.logFile ?? windowsServiceLogFile(),
      ...(options.apiModule !== undefined ? { apiModule: options.apiModule } : {}),
    };
    this.worker = new Worker(new URL('./control-worker.js', import.meta.url), { workerData });
    this.worker.on('message', (message: ToMain) => {
      switch (message.type) {
        case 'start':
          return start.resolve();
        case 'stop':
          return stop({ control: message.control });
        case 'not-a-service':
          return start.reject(new NotAServiceError());
        case 'failed':
          return fail(message.message);
        case 'warn':
          return this.onWarning(message.message);
        case 'done':
          return process.exit(this.exitCode);
      }
    });
    this.worker.on('error', (err) => fail(`the service control thread failed: ${err.message}`));
    this.worker.on('exit', () => {
      this.alive = false;
      fail('the service control thread ended');
    });
  }

  /** A step of starting or stopping is done: the next checkpoint. */
  progress(): void {
    this.post({ type: 'progress' });
  }

  running(): void {
    this.post({ type: 'running' });
  }

  /**
   * Reports SERVICE_STOPPED (exitCode 0, or an EXIT code for a failure) and
   * ends the process right after, so that no node.exe is left holding its
   * files. With no control thread left, ends it at once: the service control
   * manager then sees a crash and applies the recovery actions.
   */
  stopped(exitCode: number): void {
    this.exitCode = exitCode;
    if (!this.alive) process.exit(exitCode);
    this.post({ type: 'stopped', exitCode });
    setTimeout(() => process.exit(exitCode), DONE_GRACE_MS);
  }

  private post(message: ToWorker): void {
    if (this.alive) this.worker.postMessage(message);
  }
}

let current: ControlThread | undefined;

/**
 * Starts the control thread, once per process: cli.ts calls this before the
 * rest of the app loads, so that StartServiceCtrlDispatcherW is reached well
 * within the service control manager's start timeout; serving calls it again
 * to get the same thread.
 */
export function startControlThread(options: ControlThreadOptions = {}): ControlThread {
  if (!current) {
    if (process.platform !== 'win32' && options.apiModule === undefined) {
      throw new Error(`serve --windows-service runs only on Windows (this is ${process.platform}); use \`nhiicc serve\``);
    }
    current = new ControlThread(options);
  }
  return current;
}
