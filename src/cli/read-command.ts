import type { Command } from 'commander';
import { type CardProfile, NHI_CARD, readProfile } from '../card/operations.js';
import { openCardReaders } from '../pcsc/index.js';
import { knownCodeOf } from '../protocol/error-codes.js';
import { fail } from './fail.js';

export function profileJson(reader: string, p: CardProfile) {
  return {
    reader,
    card_no: p.cardNo,
    name: p.name,
    id_no: p.idNo,
    birth_date: p.birthDate,
    sex: p.sex,
    issue_date: p.issueDate,
    birth_date_roc: p.birthDateRoc,
    issue_date_roc: p.issueDateRoc,
    mark: p.mark,
  };
}

function table(reader: string, p: CardProfile): string {
  const rows: Array<[string, string]> = [
    ['讀卡機 Reader', reader],
    ['卡號 Card number', p.cardNo],
    ['姓名 Name', p.name],
    ['身分證號 ID number', p.idNo],
    ['出生日期 Birth date', `${p.birthDate} (民國 ${p.birthDateRoc})`],
    ['性別 Sex', p.sex],
    ['發卡日期 Issue date', `${p.issueDate} (民國 ${p.issueDateRoc})`],
    ['註記 Mark', p.mark],
  ];
  const width = Math.max(...rows.map(([k]) => displayWidth(k)));
  return rows.map(([k, v]) => `${k}${' '.repeat(width - displayWidth(k))}  ${v}`).join('\n');
}

/** CJK characters take two terminal columns. */
function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{20000}-\u{3fffd}]/u.test(ch) ? 2 : 1;
  return w;
}

export function registerReadCommand(program: Command): void {
  program
    .command('read')
    .description('read the NHI card in the reader and print it')
    .option('--json', 'print one JSON object')
    .option('--reader <name>', 'use only this reader')
    .action(async (opts: { json?: boolean; reader?: string }) => {
      const readers = openCardReaders({ wanted: NHI_CARD, settleMs: 3000 });
      try {
        const { reader, profile } = await readers.withCard(
          async (tx, reader) => ({ reader, profile: await readProfile(tx) }),
          opts.reader !== undefined ? { reader: opts.reader } : {},
        );
        process.stdout.write(opts.json ? `${JSON.stringify(profileJson(reader, profile))}\n` : `${table(reader, profile)}\n`);
      } catch (err) {
        const code = knownCodeOf(err);
        if (code === undefined) throw err;
        fail(`error ${code}: ${(err as Error).message}`);
      } finally {
        await readers.close();
      }
    });
}
