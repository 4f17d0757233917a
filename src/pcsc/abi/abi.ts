/**
 * What differs between the three PC/SC libraries we call, as data: the C
 * types behind the PC/SC typedefs, the library's name and its function
 * names. winscard.ts turns one of these into koffi declarations; the unit
 * test turns each into koffi types and checks their sizes against the C
 * headers, so a wrong width on an OS we cannot run here fails a test here.
 */
export interface PcscAbi {
  os: 'linux' | 'darwin' | 'win32';
  /** What koffi.load opens. */
  library: string;
  /** Debian/Fedora/macOS/Windows words for what to install when it is missing. */
  libraryHint: string;
  /** What to do when the PC/SC service is not running. */
  serviceHint: string;
  /** What to do when the service refuses this user (SCARD_W_SECURITY_VIOLATION). */
  accessHint: string;
  /** koffi type names for DWORD, LONG (the result code), SCARDCONTEXT and SCARDHANDLE. */
  dword: string;
  long: string;
  context: string;
  handle: string;
  /** Functions that take strings end in `A` (ANSI) on Windows. */
  stringSuffix: '' | 'A';
  /** MAX_ATR_SIZE: the length of rgbAtr in SCARD_READERSTATE. */
  atrSize: number;
  /** macOS declares the PC/SC structs with `#pragma pack(1)`. */
  packed: boolean;
}
