import fs from 'node:fs';
import path from 'node:path';
import type { CardProfileJson } from '../bed/virtual-card.js';

export function loadProfile(name: 'chen' | 'hkscs'): CardProfileJson {
  return JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, `../fixtures/card-${name}.json`), 'utf8')) as CardProfileJson;
}

/** The GetBasic payload the official component would send for this profile. */
export function expectedBasic(p: CardProfileJson): string {
  return [p.cardNo, p.idNo, p.name, p.birthDateRoc, p.sex, p.mark].join(',');
}
