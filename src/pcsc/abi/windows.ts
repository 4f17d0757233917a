import type { PcscAbi } from './abi.js';

/**
 * winscard.dll: DWORD and LONG are 32-bit, SCARDCONTEXT and SCARDHANDLE are
 * ULONG_PTR (64-bit on x64 and arm64), string functions come as `A` and `W`
 * pairs, and rgbAtr holds 36 bytes: SCARD_READERSTATE is 64 bytes on x64,
 * SCARD_IO_REQUEST 8.
 */
export const WINDOWS_ABI: PcscAbi = {
  os: 'win32',
  library: 'winscard.dll',
  libraryHint: 'winscard.dll is part of Windows: it could not be loaded',
  serviceHint:
    'start the Windows "Smart Card" service (SCardSvr): `sc.exe config SCardSvr start= demand` then `sc.exe start SCardSvr` from an elevated prompt',
  accessHint:
    'Windows refused access to the smart card service for this account',
  dword: 'uint32_t',
  long: 'int32_t',
  context: 'uintptr_t',
  handle: 'uintptr_t',
  stringSuffix: 'A',
  atrSize: 36,
  packed: false,
};
