import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');
type TypeObject = import('koffi').TypeObject;
type KoffiFunction = ReturnType<import('koffi').LibraryHandle['func']>;

export const SERVICE_WIN32_OWN_PROCESS = 0x10;

export const SERVICE_STOPPED = 1;
export const SERVICE_START_PENDING = 2;
export const SERVICE_STOP_PENDING = 3;
export const SERVICE_RUNNING = 4;

export const SERVICE_ACCEPT_STOP = 0x1;
export const SERVICE_ACCEPT_SHUTDOWN = 0x4;

export const SERVICE_CONTROL_STOP = 1;
export const SERVICE_CONTROL_INTERROGATE = 4;
export const SERVICE_CONTROL_SHUTDOWN = 5;

export const NO_ERROR = 0;
export const ERROR_CALL_NOT_IMPLEMENTED = 120;
export const ERROR_SERVICE_CANNOT_ACCEPT_CTRL = 1061;
/** StartServiceCtrlDispatcherW in a process the service control manager did not start. */
export const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063;
/** dwWin32ExitCode that says "see dwServiceSpecificExitCode". */
export const ERROR_SERVICE_SPECIFIC_ERROR = 1066;

/** SERVICE_STATUS without dwServiceType, which is always SERVICE_WIN32_OWN_PROCESS here. */
export interface ServiceStatus {
  currentState: number;
  controlsAccepted: number;
  win32ExitCode: number;
  serviceSpecificExitCode: number;
  checkPoint: number;
  waitHint: number;
}

/**
 * The three calls a service makes, as the state machine sees them. Callbacks
 * arrive on the JS thread that made this object; results are Win32 error
 * codes (0 = success).
 */
export interface ServiceControlApi {
  /**
   * StartServiceCtrlDispatcherW for one service, off the JS thread: it holds
   * one thread-pool thread until every service of the process has stopped.
   * serviceMain is called when the service control manager starts the
   * service. Resolves with 0 once the dispatcher returned after
   * SERVICE_STOPPED, or with the error it failed with.
   */
  runDispatcher(name: string, serviceMain: () => void): Promise<number>;
  /** RegisterServiceCtrlHandlerExW; the handler answers each control with a Win32 error code. */
  registerHandler(name: string, handler: (control: number) => number): number;
  /** SetServiceStatus on the handle registerHandler got. */
  setStatus(status: ServiceStatus): number;
}

export interface ServiceTypes {
  /** void WINAPI ServiceMain(DWORD dwNumServicesArgs, LPWSTR *lpServiceArgVectors) */
  serviceMain: TypeObject;
  /** DWORD WINAPI HandlerEx(DWORD dwControl, DWORD dwEventType, LPVOID lpEventData, LPVOID lpContext) */
  handlerEx: TypeObject;
  /** { LPWSTR lpServiceName; LPSERVICE_MAIN_FUNCTIONW lpServiceProc; }: 16 bytes on 64-bit Windows. */
  tableEntry: TypeObject;
  /** Seven DWORDs: 28 bytes everywhere. */
  status: TypeObject;
}

const typesByKoffi = new WeakMap<Koffi, ServiceTypes>();

/**
 * The advapi32 types, made once per koffi instance (a test makes them next
 * to the running code's). DWORD is uint32_t and the pointers are pointers,
 * so the layouts koffi computes on 64-bit Linux are Windows x64's. They are
 * named: koffi gives anonymous types names that can repeat, and
 * koffi.pointer() of one can then return a pointer to another.
 */
export function serviceTypes(koffi: Koffi): ServiceTypes {
  let types = typesByKoffi.get(koffi);
  if (!types) {
    const serviceMain = koffi.proto('__stdcall', 'SERVICE_MAIN_FUNCTIONW', 'void', ['uint32_t', 'void *']);
    types = {
      serviceMain,
      handlerEx: koffi.proto('__stdcall', 'HANDLER_FUNCTION_EX', 'uint32_t', ['uint32_t', 'uint32_t', 'void *', 'void *']),
      tableEntry: koffi.struct('SERVICE_TABLE_ENTRYW', { lpServiceName: 'str16', lpServiceProc: koffi.pointer(serviceMain) }),
      status: koffi.struct('SERVICE_STATUS', {
        dwServiceType: 'uint32_t',
        dwCurrentState: 'uint32_t',
        dwControlsAccepted: 'uint32_t',
        dwWin32ExitCode: 'uint32_t',
        dwServiceSpecificExitCode: 'uint32_t',
        dwCheckPoint: 'uint32_t',
        dwWaitHint: 'uint32_t',
      }),
    };
    typesByKoffi.set(koffi, types);
  }
  return types;
}

/** The table StartServiceCtrlDispatcherW reads: this process's one service, then the {NULL, NULL} entry that ends it. */
export function dispatchTable(name: string, serviceMain: bigint): object[] {
  return [
    { lpServiceName: name, lpServiceProc: serviceMain },
    { lpServiceName: null, lpServiceProc: null },
  ];
}

/** A SERVICE_STATUS for koffi, from the state machine's view of it. */
export function statusStruct(s: ServiceStatus): object {
  return {
    dwServiceType: SERVICE_WIN32_OWN_PROCESS,
    dwCurrentState: s.currentState,
    dwControlsAccepted: s.controlsAccepted,
    dwWin32ExitCode: s.win32ExitCode,
    dwServiceSpecificExitCode: s.serviceSpecificExitCode,
    dwCheckPoint: s.checkPoint,
    dwWaitHint: s.waitHint,
  };
}

function loadKoffi(): Koffi {
  try {
    return createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw new Error(`the koffi FFI module could not be loaded (${(err as Error).message.split('\n')[0]}): reinstall nhiicc`, { cause: err });
  }
}

/**
 * advapi32's service calls through koffi. Both callbacks stay registered
 * until the dispatcher returns: the service control manager may call them
 * at any time before that.
 */
export function loadServiceControl(): ServiceControlApi {
  const koffi = loadKoffi();
  const types = serviceTypes(koffi);
  const open = (library: string) => {
    let lib: import('koffi').LibraryHandle;
    try {
      lib = koffi.load(library);
    } catch (err) {
      throw new Error(`${library} could not be loaded (${(err as Error).message.split('\n')[0]})`, { cause: err });
    }
    return (name: string, result: string, args: unknown[]): KoffiFunction => {
      try {
        // koffi's TypeSpec type is not exported; its own factories made every entry.
        return lib.func('__stdcall', name, result, args as never);
      } catch (err) {
        throw new Error(`${library} has no usable ${name} (${(err as Error).message})`, { cause: err });
      }
    };
  };
  const advapi32 = open('advapi32.dll');
  const kernel32 = open('kernel32.dll');
  const fn = {
    dispatcher: advapi32('StartServiceCtrlDispatcherW', 'int', [koffi.pointer(types.tableEntry)]),
    register: advapi32('RegisterServiceCtrlHandlerExW', 'void *', ['str16', koffi.pointer(types.handlerEx), 'void *']),
    setStatus: advapi32('SetServiceStatus', 'int', ['void *', koffi.pointer(types.status)]),
    // koffi keeps each call's last error for the next koffi call on that
    // thread, and hands an async call's to its completion callback.
    lastError: kernel32('GetLastError', 'uint32_t', []),
  };

  const registered: bigint[] = [];
  let handle: unknown = null;
  return {
    runDispatcher(name, serviceMain) {
      const main = koffi.register(() => serviceMain(), koffi.pointer(types.serviceMain));
      registered.push(main);
      return new Promise((resolve, reject) => {
        fn.dispatcher.async(dispatchTable(name, main), (err: unknown, ok: number) => {
          const error = ok ? NO_ERROR : fn.lastError();
          for (const cb of registered.splice(0)) koffi.unregister(cb);
          if (err) reject(err);
          else resolve(error);
        });
      });
    },
    registerHandler(name, handler) {
      const cb = koffi.register((control: number) => handler(control), koffi.pointer(types.handlerEx));
      registered.push(cb);
      handle = fn.register(name, cb, null);
      return handle ? NO_ERROR : fn.lastError();
    },
    setStatus(s) {
      return fn.setStatus(handle, statusStruct(s)) ? NO_ERROR : fn.lastError();
    },
  };
}
