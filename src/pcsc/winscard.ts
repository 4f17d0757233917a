import { type Koffi, loadKoffi } from '../util/koffi.js';
import type { PcscAbi } from './abi/index.js';
import { abiFor } from './abi/index.js';
import { PcscError, PcscUnavailableError, SCARD_E_INSUFFICIENT_BUFFER, SCARD_E_NO_READERS_AVAILABLE, SCARD_S_SUCCESS } from './errors.js';

type TypeObject = import('koffi').TypeObject;
type KoffiFunction = ReturnType<import('koffi').LibraryHandle['func']>;

/** SCARDCONTEXT and SCARDHANDLE as koffi hands them back: opaque, passed back as they came. */
export type ScardContext = number | bigint;
export type ScardHandle = number | bigint;

export const SCARD_SCOPE_SYSTEM = 2;
export const SCARD_SHARE_SHARED = 2;
export const SCARD_PROTOCOL_T0 = 1;
export const SCARD_PROTOCOL_T1 = 2;
export const SCARD_LEAVE_CARD = 0;

export const SCARD_STATE_UNAWARE = 0;
export const SCARD_STATE_IGNORE = 0x1;
export const SCARD_STATE_CHANGED = 0x2;
export const SCARD_STATE_UNKNOWN = 0x4;
export const SCARD_STATE_EMPTY = 0x10;
export const SCARD_STATE_PRESENT = 0x20;
export const SCARD_STATE_MUTE = 0x200;

/** The pseudo-reader whose state changes when a reader comes or goes (pcsc-lite, Windows; not macOS). */
export const PNP_NOTIFICATION = '\\\\?PnP?\\Notification';

/** One SCARD_READERSTATE, as JS sees it. */
export interface ReaderState {
  reader: string;
  currentState: number;
  eventState: number;
  atr: Buffer;
}

/**
 * The PC/SC calls the card layer makes. Every one runs off the JS thread:
 * even releasing a context waits for the service, which may itself wait for
 * a card reader (or a virtual card served by this very process).
 */
export interface Winscard {
  readonly abi: PcscAbi;
  establishContext(): Promise<ScardContext>;
  releaseContext(ctx: ScardContext): Promise<void>;
  /** Ends a GetStatusChange waiting on ctx at once (SCARD_E_CANCELLED). */
  cancel(ctx: ScardContext): Promise<void>;
  listReaders(ctx: ScardContext): Promise<string[]>;
  /** Waits up to timeoutMs for a state to differ from its currentState; fills eventState and atr. Returns the result code (timeouts and cancels are normal). */
  getStatusChange(ctx: ScardContext, timeoutMs: number, states: ReaderState[]): Promise<number>;
  connect(ctx: ScardContext, reader: string): Promise<{ handle: ScardHandle; protocol: number }>;
  transmit(handle: ScardHandle, protocol: number, apdu: Buffer): Promise<Buffer>;
  beginTransaction(handle: ScardHandle): Promise<void>;
  endTransaction(handle: ScardHandle): Promise<void>;
  disconnect(handle: ScardHandle, disposition?: number): Promise<void>;
}

export interface AbiTypes {
  readerState: TypeObject;
  ioRequest: TypeObject;
}

/** The two PC/SC structs for abi; anonymous, so that all three ABIs can be made in one process (the unit test). */
export function abiTypes(koffi: Koffi, abi: PcscAbi): AbiTypes {
  const struct = abi.packed ? koffi.pack : koffi.struct;
  return {
    readerState: struct({
      szReader: 'const char *',
      pvUserData: 'void *',
      dwCurrentState: abi.dword,
      dwEventState: abi.dword,
      cbAtr: abi.dword,
      rgbAtr: koffi.array('uint8_t', abi.atrSize, 'Typed'),
    }),
    ioRequest: struct({ dwProtocol: abi.dword, cbPciLength: abi.dword }),
  };
}

/** Answers longer than a short APDU's 256 bytes + SW never come from the NHI card; extended APDUs fit too. */
const RECEIVE_BUFFER = 65538;

const loaded = new Map<string, Winscard>();

/**
 * Opens the OS's PC/SC library and declares the calls. A missing library or
 * symbol is a PcscUnavailableError with what to install, never a crash.
 * `library` overrides the ABI's path (tests). Once per process and library:
 * koffi names the anonymous struct types it makes, and declaring them again
 * could hand a pointer type the wrong one.
 */
export function loadWinscard(abi: PcscAbi = abiFor(), library: string = abi.library): Winscard {
  const key = `${abi.os}:${library}`;
  let w = loaded.get(key);
  if (!w) {
    w = openWinscard(abi, library);
    loaded.set(key, w);
  }
  return w;
}

function openWinscard(abi: PcscAbi, library: string): Winscard {
  let koffi: Koffi;
  try {
    koffi = loadKoffi();
  } catch (err) {
    throw new PcscUnavailableError((err as Error).message, undefined, { cause: err });
  }
  let lib: import('koffi').LibraryHandle;
  try {
    lib = koffi.load(library);
  } catch (err) {
    throw new PcscUnavailableError(`the PC/SC library ${library} could not be loaded (${(err as Error).message.split('\n')[0]}): ${abi.libraryHint}`, undefined, {
      cause: err,
    });
  }
  const { readerState, ioRequest } = abiTypes(koffi, abi);
  const { dword: DWORD, long: LONG, context: CTX, handle: HANDLE } = abi;
  const s = abi.stringSuffix;
  const declare = (name: string, args: unknown[]): KoffiFunction => {
    try {
      // koffi's TypeSpec type is not exported; its own factories made every entry.
      return lib.func(name, LONG, args as never);
    } catch (err) {
      throw new PcscUnavailableError(`the PC/SC library ${library} has no usable ${name} (${(err as Error).message}): ${abi.libraryHint}`, undefined, { cause: err });
    }
  };
  const fn = {
    establish: declare('SCardEstablishContext', [DWORD, 'void *', 'void *', koffi.out(koffi.pointer(CTX))]),
    release: declare('SCardReleaseContext', [CTX]),
    cancel: declare('SCardCancel', [CTX]),
    list: declare(`SCardListReaders${s}`, [CTX, 'const char *', 'uint8_t *', koffi.inout(koffi.pointer(DWORD))]),
    status: declare(`SCardGetStatusChange${s}`, [CTX, DWORD, koffi.inout(koffi.pointer(readerState)), DWORD]),
    connect: declare(`SCardConnect${s}`, [CTX, 'const char *', DWORD, DWORD, koffi.out(koffi.pointer(HANDLE)), koffi.out(koffi.pointer(DWORD))]),
    transmit: declare('SCardTransmit', [HANDLE, koffi.pointer(ioRequest), 'uint8_t *', DWORD, 'void *', 'uint8_t *', koffi.inout(koffi.pointer(DWORD))]),
    begin: declare('SCardBeginTransaction', [HANDLE]),
    end: declare('SCardEndTransaction', [HANDLE, DWORD]),
    disconnect: declare('SCardDisconnect', [HANDLE, DWORD]),
  };
  const pciLength = koffi.sizeof(ioRequest);

  // pcsc-lite's LONG is positive, Windows' and macOS's negative int32: one form for all.
  const code = (rv: unknown) => Number(rv) >>> 0;
  const call = (f: KoffiFunction, args: unknown[]): Promise<number> =>
    new Promise((resolve, reject) => {
      f.async(...args, (err: unknown, rv: unknown) => (err ? reject(err) : resolve(code(rv))));
    });
  const check = (name: string, rv: number) => {
    if (rv !== SCARD_S_SUCCESS) throw new PcscError(name, rv);
  };
  const multiString = (buf: Buffer, length: number) =>
    buf
      .subarray(0, length)
      .toString('utf8')
      .split('\0')
      .filter((name) => name !== '');

  return {
    abi,
    async establishContext() {
      const out: ScardContext[] = [0];
      check('SCardEstablishContext', await call(fn.establish, [SCARD_SCOPE_SYSTEM, null, null, out]));
      return out[0]!;
    },
    async releaseContext(ctx) {
      check('SCardReleaseContext', await call(fn.release, [ctx]));
    },
    async cancel(ctx) {
      check('SCardCancel', await call(fn.cancel, [ctx]));
    },
    async listReaders(ctx) {
      // Size, then names; the list may grow in between, so ask again when it did.
      for (;;) {
        const size = [0];
        let rv = await call(fn.list, [ctx, null, null, size]);
        if (rv === SCARD_E_NO_READERS_AVAILABLE) return [];
        check('SCardListReaders', rv);
        const buf = Buffer.alloc(Number(size[0]));
        rv = await call(fn.list, [ctx, null, buf, size]);
        if (rv === SCARD_E_NO_READERS_AVAILABLE) return [];
        if (rv === SCARD_E_INSUFFICIENT_BUFFER) continue;
        check('SCardListReaders', rv);
        return multiString(buf, Number(size[0]));
      }
    },
    async getStatusChange(ctx, timeoutMs, states) {
      const structs = states.map((st) => ({
        szReader: st.reader,
        pvUserData: null,
        dwCurrentState: st.currentState,
        dwEventState: 0,
        cbAtr: 0,
        rgbAtr: new Uint8Array(abi.atrSize),
      }));
      const rv = await call(fn.status, [ctx, timeoutMs, structs, structs.length]);
      structs.forEach((out, i) => {
        const st = states[i]!;
        st.eventState = Number(out.dwEventState) >>> 0;
        st.atr = Buffer.from(out.rgbAtr.subarray(0, Math.min(Number(out.cbAtr), abi.atrSize)));
      });
      return rv;
    },
    async connect(ctx, reader) {
      const handle: ScardHandle[] = [0];
      const protocol = [0];
      check('SCardConnect', await call(fn.connect, [ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, handle, protocol]));
      return { handle: handle[0]!, protocol: Number(protocol[0]) };
    },
    async transmit(handle, protocol, apdu) {
      const answer = Buffer.allocUnsafe(RECEIVE_BUFFER);
      const length = [answer.length];
      const pci = { dwProtocol: protocol, cbPciLength: pciLength };
      check('SCardTransmit', await call(fn.transmit, [handle, pci, apdu, apdu.length, null, answer, length]));
      return Buffer.from(answer.subarray(0, Number(length[0])));
    },
    async beginTransaction(handle) {
      check('SCardBeginTransaction', await call(fn.begin, [handle]));
    },
    async endTransaction(handle) {
      check('SCardEndTransaction', await call(fn.end, [handle, SCARD_LEAVE_CARD]));
    },
    async disconnect(handle, disposition = SCARD_LEAVE_CARD) {
      check('SCardDisconnect', await call(fn.disconnect, [handle, disposition]));
    },
  };
}
