// Preloaded by `npm run bench` (node --require) into a daemon left idle:
// counts every timer callback (ours and the ones Node keeps for our servers)
// in a window, and writes them with where each timer was set.
//   NHIICC_TIMER_WINDOW=<from ms>:<length ms> after start (default 10000:60000)
//   NHIICC_TIMER_REPORT=<file>   JSON: [{ fired, intervalMs, repeat, where }]
const asyncHooks = require('node:async_hooks');
const fs = require('node:fs');

const [from, length] = (process.env.NHIICC_TIMER_WINDOW ?? '10000:60000').split(':').map(Number);
const timers = new Map();
const fired = new Map();
let counting = false;
let own;

asyncHooks
  .createHook({
    init(id, type, _trigger, resource) {
      if (type !== 'Timeout') return;
      const where = new Error().stack.split('\n').slice(3).map((l) => l.trim()).filter((l) => !l.includes('node:internal/timers') && !l.includes('node:timers'));
      timers.set(id, { intervalMs: resource._idleTimeout, repeat: resource._repeat !== null, where: where.slice(0, 4).join(' < ') });
    },
    before(id) {
      if (counting && id !== own && timers.has(id)) fired.set(id, (fired.get(id) ?? 0) + 1);
    },
  })
  .enable();

const start = setTimeout(() => {
  counting = true;
  const end = setTimeout(() => {
    counting = false;
    const report = [...fired].map(([id, n]) => ({ fired: n, ...timers.get(id) }));
    fs.writeFileSync(process.env.NHIICC_TIMER_REPORT, JSON.stringify(report, null, 1));
  }, length);
  end.unref();
  own = end[Symbol.toPrimitive]();
}, from);
start.unref();
