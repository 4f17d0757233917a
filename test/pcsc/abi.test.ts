// The three PC/SC ABIs as koffi lays them out, against the sizes and offsets
// the C headers give (pcsc-lite's winscard.h/pcsclite.h, Windows' winscard.h,
// macOS's PCSC.framework headers): a wrong width on an OS we cannot run here
// fails here.
import * as koffi from 'koffi';
import t from 'tap';
import { abiFor, DARWIN_ABI, LINUX_ABI, WINDOWS_ABI } from '../../src/pcsc/abi/index.js';
import { abiTypes } from '../../src/pcsc/winscard.js';

const offsets = (type: import('koffi').TypeObject) => Object.fromEntries(Object.values(type.members!).map((m) => [m.name, m.offset]));

const EXPECTED = [
  {
    what: 'Linux x64 and arm64 (pcsc-lite): 64-bit DWORD and handles',
    abi: LINUX_ABI,
    readerState: 80,
    offsets: { szReader: 0, pvUserData: 8, dwCurrentState: 16, dwEventState: 24, cbAtr: 32, rgbAtr: 40 },
    ioRequest: 16,
    context: 8,
  },
  {
    what: 'Windows x64: 32-bit DWORD, pointer-sized handles, rgbAtr[36]',
    abi: WINDOWS_ABI,
    readerState: 64,
    offsets: { szReader: 0, pvUserData: 8, dwCurrentState: 16, dwEventState: 20, cbAtr: 24, rgbAtr: 28 },
    ioRequest: 8,
    context: 8,
  },
  {
    what: 'macOS (PCSC.framework): 32-bit everything, packed',
    abi: DARWIN_ABI,
    readerState: 61,
    offsets: { szReader: 0, pvUserData: 8, dwCurrentState: 16, dwEventState: 20, cbAtr: 24, rgbAtr: 28 },
    ioRequest: 8,
    context: 4,
  },
];

for (const e of EXPECTED) {
  t.test(`${e.what}: READERSTATE ${e.readerState} bytes, IO_REQUEST ${e.ioRequest}`, async (t) => {
    const { readerState, ioRequest } = abiTypes(koffi, e.abi);
    t.equal(koffi.sizeof(readerState), e.readerState);
    t.same(offsets(readerState), e.offsets);
    t.equal(koffi.sizeof(ioRequest), e.ioRequest);
    t.equal(koffi.sizeof(e.abi.context), e.context, 'SCARDCONTEXT');
    t.equal(koffi.sizeof(e.abi.handle), e.context, 'SCARDHANDLE');
  });
}

t.test('string functions: A names on Windows only', async (t) => {
  t.same([LINUX_ABI, WINDOWS_ABI, DARWIN_ABI].map((abi) => abi.stringSuffix), ['', 'A', '']);
});

t.test('each OS gets its own table; the BSDs use pcsc-lite', async (t) => {
  t.equal(abiFor('linux'), LINUX_ABI);
  t.equal(abiFor('win32'), WINDOWS_ABI);
  t.equal(abiFor('darwin'), DARWIN_ABI);
  t.equal(abiFor('freebsd'), LINUX_ABI);
});
