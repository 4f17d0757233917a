// `tsx installers/prefetch.ts`: fetches, once, what the package builds take
// from the npm registry for every target npm has a pinned Node for (the Node
// runtime and koffi's binary), into installers/.cache. The test setup runs it
// before the tests, so that a first run's downloads (over 100 MB) count
// against no test's time limit.
import { koffiBinary } from './koffi-binary.js';
import { NODE_PINS, nodeRuntime, TARGETS } from './node-runtime.js';

const log = (msg: string) => process.stderr.write(`[prefetch] ${msg}\n`);
for (const target of TARGETS.filter((t) => NODE_PINS[t] !== undefined)) {
  nodeRuntime(target, log);
  koffiBinary(target, log);
}
