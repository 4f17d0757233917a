// The three PC/SC ABIs as koffi lays them out, against the sizes and offsets
// the C headers give (pcsc-lite's winscard.h/pcsclite.h, Windows' winscard.h,
// macOS's PCSC.framework headers): a wrong width on an OS we cannot run here
// fails here.
import * as koffi from 'koffi';
import t from 'tap';
import { abiFor, DARWIN_ABI, LINUX_ABI, WINDOWS_ABI } from '../../src/pcsc/abi/index.js';
import { abiTypes } from '../../src/pcsc/winscard.js';

const offsets = (type: koffi.TypeObject) => Object.fromEntries(Object.values(type.members!).map((m) => [m.name, m.offset]));

t.test('Linux x64 and arm64 (pcsc-lite): 64-bit DWORD, READERSTATE 80 bytes, IO_REQUEST 16', async (t) => {
  const { readerState, ioRequest } = abiTypes(koffi, LINUX_ABI);
  t.equal(koffi.sizeof(readerState), 80);
  t.same(offsets(readerState), { szReader: 0, pvUserData: 8, dwCurrentState: 16, dwEventState: 24, cbAtr: 32, rgbAtr: 40 });
  t.equal(koffi.sizeof(ioRequest), 16);
  t.equal(koffi.sizeof(LINUX_ABI.context), 8, 'SCARDCONTEXT is a long');
  t.equal(LINUX_ABI.stringSuffix, '');
});

t.test('Windows x64: 32-bit DWORD, pointer-sized handles, rgbAtr[36], READERSTATE 64 bytes, IO_REQUEST 8', async (t) => {
  const { readerState, ioRequest } = abiTypes(koffi, WINDOWS_ABI);
  t.equal(koffi.sizeof(readerState), 64);
  t.same(offsets(readerState), { szReader: 0, pvUserData: 8, dwCurrentState: 16, dwEventState: 20, cbAtr: 24, rgbAtr: 28 });
  t.equal(koffi.sizeof(ioRequest), 8);
  t.equal(koffi.sizeof(WINDOWS_ABI.context), 8, 'SCARDCONTEXT is a ULONG_PTR');
  t.equal(koffi.sizeof(WINDOWS_ABI.long), 4, 'LONG is 32-bit');
  t.equal(WINDOWS_ABI.stringSuffix, 'A');
});

t.test('macOS (PCSC.framework): 32-bit everything, packed: READERSTATE 61 bytes, IO_REQUEST 8', async (t) => {
  const { readerState, ioRequest } = abiTypes(koffi, DARWIN_ABI);
  t.equal(koffi.sizeof(readerState), 61);
  t.same(offsets(readerState), { szReader: 0, pvUserData: 8, dwCurrentState: 16, dwEventState: 20, cbAtr: 24, rgbAtr: 28 });
  t.equal(koffi.sizeof(ioRequest), 8);
  t.equal(koffi.sizeof(DARWIN_ABI.context), 4, 'SCARDCONTEXT is 32-bit');
});

t.test('each OS gets its own table; the BSDs use pcsc-lite', async (t) => {
  t.equal(abiFor('linux'), LINUX_ABI);
  t.equal(abiFor('win32'), WINDOWS_ABI);
  t.equal(abiFor('darwin'), DARWIN_ABI);
  t.equal(abiFor('freebsd'), LINUX_ABI);
});
