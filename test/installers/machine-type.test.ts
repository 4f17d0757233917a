// The header reader the package builds check every binary with, on headers
// made here for each format, and on this machine's own node.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { assertMachine, DOTNET, machineType } from '../../installers/machine-type.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-machine-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

function elf(machine: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // 64-bit
  b[5] = 1; // little-endian
  b.writeUInt16LE(machine, 18);
  return b;
}

function pe(machine: number, clr = false): Buffer {
  const b = Buffer.alloc(0x80 + 24 + 240);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  b.writeUInt16LE(machine, 0x84);
  const optional = 0x80 + 24;
  b.writeUInt16LE(0x20b, optional); // PE32+
  b.writeUInt32LE(16, optional + 108); // NumberOfRvaAndSizes
  if (clr) b.writeUInt32LE(0x2008, optional + 112 + 14 * 8);
  return b;
}

function macho(cputype: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeUInt32LE(cputype, 4);
  return b;
}

function fat(...cputypes: number[]): Buffer {
  const b = Buffer.alloc(8 + cputypes.length * 20);
  b.writeUInt32BE(0xcafebabe, 0);
  b.writeUInt32BE(cputypes.length, 4);
  for (const [i, c] of cputypes.entries()) b.writeUInt32BE(c, 8 + i * 20);
  return b;
}

t.test('reads ELF e_machine, PE Machine and Mach-O cputype', async (t) => {
  t.same(machineType(file('elf-x64', elf(62))), { format: 'ELF', cpus: ['x64'] });
  t.same(machineType(file('elf-arm64', elf(183))), { format: 'ELF', cpus: ['arm64'] });
  t.same(machineType(file('pe-x64', pe(0x8664))), { format: 'PE', cpus: ['x64'] });
  t.same(machineType(file('pe-arm64', pe(0xaa64))), { format: 'PE', cpus: ['arm64'] });
  t.same(machineType(file('pe-dotnet', pe(0x14c, true))), { format: 'PE', cpus: [DOTNET] }, 'a .NET assembly is IL whatever its Machine says');
  t.same(machineType(file('macho-x64', macho(0x01000007))), { format: 'Mach-O', cpus: ['x64'] });
  t.same(machineType(file('macho-arm64', macho(0x0100000c))), { format: 'Mach-O', cpus: ['arm64'] });
  t.same(machineType(file('fat', fat(0x01000007, 0x0100000c))), { format: 'Mach-O', cpus: ['x64', 'arm64'] });
  t.same(machineType(file('elf-riscv', elf(243))), { format: 'ELF', cpus: ['machine 0xf3'] });
  t.throws(() => machineType(file('text', Buffer.from('#!/bin/sh\necho hi\n'))), /neither an ELF, PE nor Mach-O/);
});

t.test('assertMachine accepts the target and nothing else', async (t) => {
  t.doesNotThrow(() => assertMachine(path.join(dir, 'elf-arm64'), 'linux-arm64'));
  t.doesNotThrow(() => assertMachine(path.join(dir, 'pe-dotnet'), 'win-x64'));
  t.throws(() => assertMachine(path.join(dir, 'elf-x64'), 'linux-arm64'), /is ELF for x64, not ELF for arm64/);
  t.throws(() => assertMachine(path.join(dir, 'pe-x64'), 'linux-x64'), /is PE for x64, not ELF for x64/);
  t.throws(() => assertMachine(path.join(dir, 'fat'), 'darwin-arm64'), /Mach-O for x64 \+ arm64/, 'a universal binary carries another CPU too');
  t.throws(() => assertMachine(path.join(dir, 'macho-arm64'), 'darwin-x64'), /not Mach-O for x64/);
});

t.test("this machine's node", async (t) => {
  const os = process.platform === 'win32' ? 'win' : process.platform;
  t.doesNotThrow(() => assertMachine(fs.realpathSync(process.execPath), `${os}-${process.arch}`));
});
