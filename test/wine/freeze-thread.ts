import { loadKoffi } from '../../src/util/koffi.js';

/**
 * Stops one thread of a Linux process, and only that one, until thaw() is
 * called: ptrace's SEIZE + INTERRUPT (a SIGSTOP would stop every thread).
 * Under Wine each Windows thread is a Linux thread, and a Windows program's
 * main thread is its process's first: this is how the Wine test blocks the
 * service's main (JavaScript) thread from outside, with nothing in the
 * product for it. Windows' own SuspendThread does the same there.
 */
export function freezeThread(tid: number): { thaw(): void } {
  const koffi = loadKoffi();
  const libc = koffi.load('libc.so.6');
  const ptrace = libc.func('long ptrace(int request, ...)');
  const waitpid = libc.func('int waitpid(int pid, _Out_ int *status, int options)');
  const call = (what: string, request: number) => {
    if (Number(ptrace(request, 'int', tid, 'void *', null, 'void *', null)) !== 0) throw new Error(`ptrace ${what} of thread ${tid} failed: errno ${koffi.errno()}`);
  };
  call('SEIZE', PTRACE_SEIZE);
  try {
    call('INTERRUPT', PTRACE_INTERRUPT);
    const status = [0];
    if (waitpid(tid, status, __WALL) !== tid || (status[0]! & 0xff) !== 0x7f) throw new Error(`thread ${tid} did not stop (status ${status[0]})`);
  } catch (err) {
    ptrace(PTRACE_DETACH, 'int', tid, 'void *', null, 'void *', null);
    throw err;
  }
  // Signals sent to the thread meanwhile stay pending and are delivered when it runs again.
  return { thaw: () => call('DETACH', PTRACE_DETACH) };
}

const PTRACE_DETACH = 17;
const PTRACE_SEIZE = 0x4206;
const PTRACE_INTERRUPT = 0x4207;
/** waitpid: also for a thread that is not a child of this process. */
const __WALL = 0x40000000;
