// Which OS and CPU an executable or shared library was built for, read from
// its header: ELF e_machine, PE Machine, Mach-O cputype. A package build
// checks every binary it stages with this, so that nothing compiled for
// another target slips in (a cached download, a host build).
import fs from 'node:fs';

export type BinaryFormat = 'ELF' | 'PE' | 'Mach-O';

export interface MachineType {
  format: BinaryFormat;
  /** Node's names: x64, arm64, ia32; `machine 0x…` for anything else. */
  cpus: string[];
}

const ELF_MACHINES: Record<number, string> = { 3: 'ia32', 62: 'x64', 183: 'arm64' };
// The PE and Mach-O specifications write these values in hex; decimal would hide them.
// biome-ignore lint/complexity/useSimpleNumberKeys: the specification's own notation
const PE_MACHINES: Record<number, string> = { 0x14c: 'ia32', 0x8664: 'x64', 0xaa64: 'arm64' };
// biome-ignore lint/complexity/useSimpleNumberKeys: the specification's own notation
const MACHO_CPUS: Record<number, string> = { 7: 'ia32', 0x01000007: 'x64', 0x0100000c: 'arm64' };

/** What a .NET (IL) assembly runs on: any CPU the CLR runs on. */
export const DOTNET = '.NET IL';

const named = (table: Record<number, string>, n: number) => table[n] ?? `machine 0x${n.toString(16)}`;

function readHead(file: string, length: number, position = 0): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, position);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

export function machineType(file: string): MachineType {
  const head = readHead(file, 64);
  if (head.length >= 20 && head.readUInt32BE(0) === 0x7f454c46) {
    // EI_DATA 1 = little-endian; every target we ship is.
    const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
    return { format: 'ELF', cpus: [named(ELF_MACHINES, machine)] };
  }
  if (head.length >= 64 && head.toString('latin1', 0, 2) === 'MZ') {
    const peOffset = head.readUInt32LE(0x3c);
    // Signature, COFF header (20 bytes), then the optional header's data directories.
    const pe = readHead(file, 24 + 240, peOffset);
    if (pe.length >= 24 && pe.toString('latin1', 0, 4) === 'PE\0\0') {
      // A .NET assembly (a CLR header in data directory 14) is IL: the runtime picks the CPU.
      const optional = pe.subarray(24);
      const dirs = optional.readUInt16LE(0) === 0x20b ? 112 : 96;
      const clr = optional.length >= dirs + 15 * 8 && optional.readUInt32LE(dirs - 4) > 14 ? optional.readUInt32LE(dirs + 14 * 8) : 0;
      if (clr !== 0) return { format: 'PE', cpus: [DOTNET] };
      return { format: 'PE', cpus: [named(PE_MACHINES, pe.readUInt16LE(4))] };
    }
  }
  if (head.length >= 8) {
    const magic = head.readUInt32LE(0);
    // MH_MAGIC_64 / MH_MAGIC, little-endian: cputype follows the magic.
    if (magic === 0xfeedfacf || magic === 0xfeedface) return { format: 'Mach-O', cpus: [named(MACHO_CPUS, head.readInt32LE(4) >>> 0)] };
    // A universal binary (FAT_MAGIC, big-endian) lists one cputype per slice.
    if (head.readUInt32BE(0) === 0xcafebabe) {
      const count = head.readUInt32BE(4);
      const table = readHead(file, 8 + count * 20);
      const cpus = Array.from({ length: count }, (_, i) => named(MACHO_CPUS, table.readUInt32BE(8 + i * 20)));
      return { format: 'Mach-O', cpus };
    }
  }
  throw new Error(`${file}: neither an ELF, PE nor Mach-O binary`);
}

const FORMAT_OF_OS: Record<string, BinaryFormat> = { linux: 'ELF', win: 'PE', darwin: 'Mach-O' };

/** Throws unless file is built for target (`linux-x64`, `win-x64`, `darwin-arm64`, …) and nothing else (a .NET assembly runs on any Windows). */
export function assertMachine(file: string, target: string): MachineType {
  const [os, cpu] = target.split('-') as [string, string];
  const found = machineType(file);
  const runsThere = (c: string) => c === cpu || (found.format === 'PE' && c === DOTNET);
  if (found.format !== FORMAT_OF_OS[os] || found.cpus.length !== 1 || !runsThere(found.cpus[0]!)) {
    throw new Error(`${file} is ${found.format} for ${found.cpus.join(' + ')}, not ${FORMAT_OF_OS[os]} for ${cpu} (target ${target})`);
  }
  return found;
}
