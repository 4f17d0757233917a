// Loading the PC/SC library can fail in two ways on a user's machine: the
// library is not there, or it lacks a function. Both must be a 7001-class
// error that says what to install, never a crash.
import t from 'tap';
import { LINUX_ABI } from '../../src/pcsc/abi/index.js';
import { PcscUnavailableError } from '../../src/pcsc/errors.js';
import { loadWinscard } from '../../src/pcsc/winscard.js';

t.test('a library path that does not exist: PcscUnavailableError with what to install', async (t) => {
  t.throws(() => loadWinscard(LINUX_ABI, '/nonexistent/libpcsclite.so.1'), {
    name: 'PcscUnavailableError',
    message: /\/nonexistent\/libpcsclite\.so\.1 could not be loaded .*apt install pcscd libpcsclite1/,
  });
});

t.test('a library without the PC/SC functions: PcscUnavailableError naming the missing one', async (t) => {
  let err: unknown;
  try {
    loadWinscard(LINUX_ABI, 'libc.so.6');
  } catch (e) {
    err = e;
  }
  t.type(err, PcscUnavailableError);
  t.match((err as Error).message, /libc\.so\.6 has no usable SCardEstablishContext/);
});
