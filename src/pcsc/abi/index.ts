import type { PcscAbi } from './abi.js';
import { DARWIN_ABI } from './darwin.js';
import { LINUX_ABI } from './linux.js';
import { WINDOWS_ABI } from './windows.js';

export type { PcscAbi } from './abi.js';
export { DARWIN_ABI, LINUX_ABI, WINDOWS_ABI };

/** The ABI of this OS's PC/SC library; pcsc-lite's everywhere but macOS and Windows (the BSDs use it too). */
export function abiFor(platform: NodeJS.Platform = process.platform): PcscAbi {
  if (platform === 'win32') return WINDOWS_ABI;
  if (platform === 'darwin') return DARWIN_ABI;
  return LINUX_ABI;
}
