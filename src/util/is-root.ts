/** This process runs as root (never on Windows, which has no uid). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}
