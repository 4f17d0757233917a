/**
 * Node options every service definition starts the daemon with: the systemd
 * unit, the launchd job, the Windows service, `npm start`, and `npm run bench`
 * to measure what users run. test/installers/definitions.test.ts keeps them
 * in step.
 *
 * A 1 MB young generation: the daemon keeps little live data, and V8's default
 * (growing to 16 MB per semi-space) only adds resident memory and fresh pages
 * to fault in. Measured on the bench VM: 3–6 MB less idle RSS, 2–10× fewer
 * page faults per GetBasic, a slightly lower p50, cold start unchanged.
 *
 * The old generation grows by a fixed 1.5× of what is live after a full
 * collection, not by V8's adaptive factor (up to 4× under a high allocation
 * rate): a page flooding the service cannot inflate its memory. Measured with
 * test/server/fuzz.test.ts (100,000 hostile frames): RSS +58 MB over its start
 * with the adaptive factor, +15 MB with this; npm run bench unchanged within
 * its noise.
 *
 * No Maglev (V8's middle JIT tier, on by default from Node 22; Node 20 has it
 * off): the daemon's little JS work does not need it, and the code it compiled
 * stayed resident. Measured on the bench VM with Node 24: 2 MB less idle RSS
 * and 1.7 MB less after 650 GetBasic, GetBasic p50 unchanged.
 */
export const SERVICE_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=1', '--heap-growing-percent=50', '--no-maglev'];
