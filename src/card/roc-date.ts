/** ROC calendar dates as stored on the card: `yyyMMdd`, ROC year + 1911 = AD year. */

const ROC_DATE = /^(\d{3})(\d{2})(\d{2})$/;

/** `0700101` → `1981-01-01`; undefined when it is not a real calendar date. */
export function rocToIso(roc: string): string | undefined {
  const m = ROC_DATE.exec(roc);
  if (!m) return undefined;
  const year = Number(m[1]) + 1911;
  const month = Number(m[2]);
  const day = Number(m[3]);
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined;
  return `${year}-${m[2]}-${m[3]}`;
}
