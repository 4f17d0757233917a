import type { PcscAbi } from './abi.js';

/**
 * pcsc-lite: DWORD is `unsigned long` and LONG is `long`, so both are 64-bit
 * on x64 and arm64; SCARDCONTEXT and SCARDHANDLE are `long` too.
 * SCARD_READERSTATE is 80 bytes on x64, SCARD_IO_REQUEST 16.
 */
export const LINUX_ABI: PcscAbi = {
  os: 'linux',
  library: 'libpcsclite.so.1',
  libraryHint: 'install pcscd and its library: `sudo apt install pcscd libpcsclite1` (Fedora: `sudo dnf install pcsc-lite pcsc-lite-libs`)',
  serviceHint:
    'install and start pcscd: `sudo apt install pcscd` (Fedora: `sudo dnf install pcsc-lite`), then `sudo systemctl enable --now pcscd.socket`',
  accessHint:
    "pcscd's polkit policy does not allow this user to use smart cards: install nhiicc's rule (/etc/polkit-1/rules.d/60-nhiicc-pcscd.rules, shipped by the package) or run as a user allowed to (polkit action org.debian.pcsc-lite.access_pcsc)",
  dword: 'unsigned long',
  long: 'long',
  context: 'long',
  handle: 'long',
  stringSuffix: '',
  atrSize: 33,
  packed: false,
};
