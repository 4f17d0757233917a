import type { PcscAbi } from './abi.js';

/**
 * Apple's PCSC.framework: 32-bit DWORD, LONG, SCARDCONTEXT and SCARDHANDLE
 * on every Mac, and its structs packed to 1 byte, so SCARD_READERSTATE is
 * 61 bytes on x64 and arm64 and SCARD_IO_REQUEST 8.
 */
export const DARWIN_ABI: PcscAbi = {
  os: 'darwin',
  library: '/System/Library/Frameworks/PCSC.framework/PCSC',
  libraryHint: 'PC/SC is part of macOS: this Mac’s PCSC.framework could not be loaded',
  serviceHint:
    'PC/SC is part of macOS: unplug and replug the reader; if it persists, restart the computer',
  accessHint:
    'macOS refused access to smart cards for this process',
  dword: 'uint32_t',
  long: 'int32_t',
  context: 'int32_t',
  handle: 'int32_t',
  stringSuffix: '',
  atrSize: 33,
  packed: true,
};
