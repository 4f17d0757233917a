// The reader monitor against stand-ins for the PC/SC library that behave as
// pcsc-lite (waits until something changes), Wine (returns at once, always)
// and macOS (no PnP pseudo-reader) do. The real library is exercised by the
// real-stack tests (reader-layer, read-cli).
import t, { type Test } from 'tap';
import { SCARD_E_CANCELLED, SCARD_E_NO_SERVICE, SCARD_E_TIMEOUT, SCARD_S_SUCCESS } from '../../src/pcsc/errors.js';
import { type MonitorTimings, ReaderMonitor } from '../../src/pcsc/monitor.js';
import type { ContextListener, ReaderPort } from '../../src/pcsc/port.js';
import {
  PNP_NOTIFICATION,
  type ReaderState,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNKNOWN,
  type Winscard,
} from '../../src/pcsc/winscard.js';

const FAST: MonitorTimings = { waitMs: 60_000, relistMs: 100, idleMs: 50 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A machine's readers and cards, and a library over them. */
function machine(mode: { waitsForChange: boolean; pnp: boolean }) {
  const world = { readers: new Map<string, number>(), pnpCount: 0 };
  let wake: (() => void) | undefined;
  const changed = () => wake?.();
  const calls = { status: 0, list: 0 };
  const stateOf = (r: ReaderState): number => {
    if (r.reader === PNP_NOTIFICATION) return mode.pnp ? world.pnpCount << 16 : SCARD_STATE_UNKNOWN;
    return world.readers.get(r.reader) ?? SCARD_STATE_UNKNOWN;
  };
  const w = {
    cancel: async () => wake?.(),
    listReaders: async () => {
      calls.list++;
      return [...world.readers.keys()];
    },
    getStatusChange: async (_ctx: unknown, timeoutMs: number, states: ReaderState[]) => {
      calls.status++;
      const differs = () => states.some((s) => (stateOf(s) & ~SCARD_STATE_CHANGED) !== s.currentState);
      let cancelled = false;
      if (mode.waitsForChange && !differs()) {
        const woke = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), timeoutMs);
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        wake = undefined;
        if (!woke) return SCARD_E_TIMEOUT;
        cancelled = !differs();
      }
      for (const s of states) {
        const now = stateOf(s);
        // Wine (measured): a reader's state comes back marked changed even when it is not.
        const changed = now !== s.currentState || (!mode.waitsForChange && s.reader !== PNP_NOTIFICATION);
        s.eventState = changed ? now | SCARD_STATE_CHANGED : now;
        s.atr = now & SCARD_STATE_PRESENT ? Buffer.from('3B00', 'hex') : Buffer.alloc(0);
      }
      return cancelled ? SCARD_E_CANCELLED : SCARD_S_SUCCESS;
    },
  } as unknown as Winscard;
  const present = (n: number) => SCARD_STATE_PRESENT | (n << 16);
  return {
    w,
    calls,
    addReader(name: string) {
      world.readers.set(name, SCARD_STATE_EMPTY);
      world.pnpCount++;
      changed();
    },
    removeReader(name: string) {
      world.readers.delete(name);
      world.pnpCount++;
      changed();
    },
    insert(name: string, events = 1) {
      world.readers.set(name, present(events));
      changed();
    },
    remove(name: string, events = 2) {
      world.readers.set(name, SCARD_STATE_EMPTY | (events << 16));
      changed();
    },
    failWith(code: number) {
      w.getStatusChange = async () => code;
      changed();
    },
  };
}

function recorder() {
  const events: string[] = [];
  const listener: ContextListener = {
    onReaderList: (names) => events.push(`list ${names.join(',')}`),
    onReaderAdded: (port) => events.push(`added ${port.name}`),
    onReaderRemoved: (name) => events.push(`removed ${name}`),
    onCardState: (name, present) => events.push(`${name} ${present ? 'card' : 'empty'}`),
    onContextError: (err) => events.push(`error ${err.message}`),
  };
  return { events, listener };
}

const port = (name: string) => ({ name }) as ReaderPort;

async function until(what: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await sleep(5);
}

/** A monitor on m, started, stopped when the test ends; its events once the first reader state is in. */
async function watching(t: Test, m: ReturnType<typeof machine>, first: string) {
  const { events, listener } = recorder();
  const monitor = new ReaderMonitor(m.w, 1, listener, port, FAST);
  monitor.start();
  t.teardown(() => monitor.stop());
  await until(() => events.includes(first));
  return { events, monitor };
}

t.test('pcsc-lite: readers and cards as they come and go, no call while nothing changes', async (t) => {
  const m = machine({ waitsForChange: true, pnp: true });
  m.addReader('R1');
  const { events, monitor } = await watching(t, m, 'R1 empty');
  t.same(events, ['added R1', 'list R1', 'R1 empty']);
  const quiet = m.calls.status;
  await sleep(300);
  t.equal(m.calls.status, quiet, 'one wait, no polling while nothing changes');
  m.insert('R1');
  await until(() => events.includes('R1 card'));
  m.addReader('R2');
  await until(() => events.includes('R2 empty'));
  m.removeReader('R1');
  await until(() => events.includes('removed R1'));
  t.same(events.slice(3), ['R1 card', 'added R2', 'list R1,R2', 'R2 empty', 'removed R1', 'list R2']);
  const started = Date.now();
  await monitor.stop();
  t.ok(Date.now() - started < 500, 'stop cancels the wait at once');
});

t.test('a card swapped between two waits is reported removed, then present', async (t) => {
  const m = machine({ waitsForChange: true, pnp: true });
  m.addReader('R1');
  m.insert('R1', 1);
  const { events } = await watching(t, m, 'R1 card');
  m.insert('R1', 3); // out and in again: the counter moved by two
  await until(() => events.length >= 5);
  t.same(events.slice(2), ['R1 card', 'R1 empty', 'R1 card']);
});

t.test('Wine: a wait that returns at once with nothing changed does not spin, and changes still arrive within idleMs', async (t) => {
  const m = machine({ waitsForChange: false, pnp: true });
  m.addReader('R1');
  const { events } = await watching(t, m, 'R1 empty');
  const before = m.calls.status;
  await sleep(500);
  const calls = m.calls.status - before;
  t.ok(calls <= 500 / FAST.idleMs + 2, `${calls} calls in 500 ms (one per ${FAST.idleMs} ms at most)`);
  const inserted = Date.now();
  m.insert('R1');
  await until(() => events.includes('R1 card'));
  t.ok(Date.now() - inserted <= FAST.idleMs * 3, `the card was seen after ${Date.now() - inserted} ms`);
});

t.test('Wine: the pauses between waits leave no listener behind (hours of them must not pile up)', async (t) => {
  const m = machine({ waitsForChange: false, pnp: true });
  m.addReader('R1');
  const { events, listener } = recorder();
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const monitor = new ReaderMonitor(m.w, 1, listener, port, { ...FAST, idleMs: 2 });
  monitor.start();
  await until(() => events.includes('R1 empty'));
  const before = m.calls.status;
  await until(() => m.calls.status - before > 50);
  t.ok(m.calls.status - before > 50, `${m.calls.status - before} idle waits`);
  await monitor.stop();
  await sleep(10); // warnings are emitted on the next tick
  t.same(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), [], 'no listener leak warning');
});

t.test('macOS: no PnP pseudo-reader, so the list is read again every relistMs', async (t) => {
  const m = machine({ waitsForChange: true, pnp: false });
  m.addReader('R1');
  const { events } = await watching(t, m, 'R1 empty');
  m.addReader('R2');
  await until(() => events.includes('added R2'), FAST.relistMs * 5);
  t.ok(events.includes('added R2'), 'a new reader is found by listing again');
});

t.test('the service going away ends the monitor with a context error', async (t) => {
  const m = machine({ waitsForChange: true, pnp: true });
  m.addReader('R1');
  const { events } = await watching(t, m, 'R1 empty');
  m.failWith(SCARD_E_NO_SERVICE);
  await until(() => events.some((e) => e.startsWith('error')));
  t.match(events.at(-1), /^error SCardGetStatusChange: the PC\/SC service is not running \(0x8010001D\)/);
});
