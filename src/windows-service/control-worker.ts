// The service's control thread (a worker_thread started by control-thread.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { ServiceControlApi } from './advapi32.js';
import { lastWords } from './last-words.js';
import { ServiceController, type Timing, type ToMain, type ToWorker } from './controller.js';

export interface ControlWorkerData {
  name: string;
  timing: Timing;
  /** Where the main thread logs; this thread writes there only when it ends the process. */
  logFile: string;
  /** A module exporting loadServiceControl() in place of advapi32's (tests). */
  apiModule?: string;
}

const data = workerData as ControlWorkerData;
const port = parentPort!;
const toMain = (message: ToMain) => port.postMessage(message);

/** The main thread is not answering: the reason goes to the log from here, then the whole process ends (TerminateProcess on Windows). */
function endProcess(reason: string): void {
  lastWords(data.logFile, reason);
  process.kill(process.pid, 'SIGKILL');
}

try {
  const { loadServiceControl } = (await import(data.apiModule ?? './advapi32.js')) as { loadServiceControl(): ServiceControlApi };
  const controller = new ServiceController(loadServiceControl(), { name: data.name, timing: data.timing, toMain, endProcess });
  port.on('message', (message: ToWorker) => controller.fromMain(message));
  controller.run();
} catch (err) {
  toMain({ type: 'failed', message: (err as Error).message });
}
