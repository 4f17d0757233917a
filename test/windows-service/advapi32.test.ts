// advapi32's service structs as koffi lays them out and passes them, made by
// the code the service runs (serviceTypes, dispatchTable, statusStruct),
// against Windows x64's headers (winsvc.h): a wrong layout fails here, not
// only under Windows.
import * as koffi from 'koffi';
import type { TypeObject } from 'koffi';
import t from 'tap';
import { dispatchTable, SERVICE_RUNNING, SERVICE_WIN32_OWN_PROCESS, serviceTypes, statusStruct } from '../../src/windows-service/advapi32.js';

const offsets = (type: TypeObject) => Object.fromEntries(Object.values(koffi.type(type).members!).map((m) => [m.name, m.offset]));
const types = serviceTypes(koffi);
// koffi's typings say TypeObject[]; it gives { type, direction } for each argument.
const argumentTypes = (proto: TypeObject) => (proto.proto!.arguments as unknown as { type: TypeObject }[]).map((a) => a.type.name);

t.test('SERVICE_TABLE_ENTRYW: 16 bytes, a wide string pointer then the ServiceMain pointer', async (t) => {
  t.equal(koffi.sizeof(types.tableEntry), 16);
  t.same(offsets(types.tableEntry), { lpServiceName: 0, lpServiceProc: 8 });
  t.equal(koffi.type(types.tableEntry).members!.lpServiceName!.type.primitive, 'String16', 'LPWSTR is koffi str16 (UTF-16)');
});

t.test('SERVICE_STATUS: seven DWORDs, 28 bytes', async (t) => {
  t.equal(koffi.sizeof(types.status), 28);
  t.same(offsets(types.status), {
    dwServiceType: 0,
    dwCurrentState: 4,
    dwControlsAccepted: 8,
    dwWin32ExitCode: 12,
    dwServiceSpecificExitCode: 16,
    dwCheckPoint: 20,
    dwWaitHint: 24,
  });
});

t.test('the callback types: stdcall prototypes, and pointers to them are callback pointers', async (t) => {
  t.same(
    argumentTypes(types.serviceMain),
    ['uint32_t', 'void *'],
    'ServiceMain(DWORD, LPWSTR *)',
  );
  t.equal(types.handlerEx.proto!.result.name, 'uint32_t', 'HandlerEx returns a DWORD');
  t.same(
    argumentTypes(types.handlerEx),
    ['uint32_t', 'uint32_t', 'void *', 'void *'],
    'HandlerEx(DWORD, DWORD, LPVOID, LPVOID)',
  );
  // koffi caches pointer types by name: each must point to its own type.
  for (const [name, type, primitive] of [
    ['SERVICE_MAIN_FUNCTIONW', types.serviceMain, 'Callback'],
    ['HANDLER_FUNCTION_EX', types.handlerEx, 'Callback'],
    ['SERVICE_TABLE_ENTRYW', types.tableEntry, 'Pointer'],
    ['SERVICE_STATUS', types.status, 'Pointer'],
  ] as const) {
    const pointer = koffi.type(koffi.pointer(type));
    t.equal(pointer.name, `${name} *`);
    t.equal(pointer.primitive, primitive, `${name} * is a ${primitive}`);
  }
  t.equal(serviceTypes(koffi), types, 'made once per koffi instance');
});

t.test('the dispatcher table as a call off the JS thread reads it: the service, then {NULL, NULL}', async (t) => {
  // qsort stands in for StartServiceCtrlDispatcherW: called the same way
  // (async, the table as its pointer argument), its comparator reads both
  // entries from the call's memory while the call runs.
  const libc = koffi.load('libc.so.6');
  const compare = koffi.proto('__cdecl', 'NHIICC_TEST_COMPARE', 'int', ['void *', 'void *']);
  const qsort = libc.func('qsort', 'void', [koffi.pointer(types.tableEntry), 'size_t', 'size_t', koffi.pointer(compare)]);
  const serviceMain = koffi.register(() => {}, koffi.pointer(types.serviceMain));
  const seen: unknown[] = [];
  const comparator = koffi.register((a: unknown, b: unknown) => {
    seen.push(koffi.decode(a, types.tableEntry), koffi.decode(b, types.tableEntry));
    return 0;
  }, koffi.pointer(compare));
  t.teardown(() => {
    koffi.unregister(serviceMain);
    koffi.unregister(comparator);
  });
  const table = dispatchTable('nhiicc', serviceMain);
  await new Promise<void>((resolve, reject) =>
    qsort.async(table, table.length, koffi.sizeof(types.tableEntry), comparator, (err: unknown) => (err ? reject(err) : resolve())),
  );
  t.same(seen, [
    { lpServiceName: 'nhiicc', lpServiceProc: serviceMain },
    { lpServiceName: null, lpServiceProc: null },
  ]);
});

t.test('SERVICE_STATUS as SetServiceStatus reads it: the fields in order', async (t) => {
  const libc = koffi.load('libc.so.6');
  const memcpy = libc.func('memcpy', 'void *', ['uint8_t *', koffi.pointer(types.status), 'size_t']);
  const out = Buffer.alloc(28);
  memcpy(out, statusStruct({ currentState: SERVICE_RUNNING, controlsAccepted: 5, win32ExitCode: 1066, serviceSpecificExitCode: 4, checkPoint: 7, waitHint: 30000 }), 28);
  t.same(
    Array.from({ length: 7 }, (_, i) => out.readUInt32LE(i * 4)),
    [SERVICE_WIN32_OWN_PROCESS, SERVICE_RUNNING, 5, 1066, 4, 7, 30000],
  );
});
