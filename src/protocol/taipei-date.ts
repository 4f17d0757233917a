import { HOUR_MS } from '../util/time.js';

/**
 * "Today" as the NHI servers see it: the date in Taiwan (Asia/Taipei), whatever
 * the host's time zone. Taiwan has kept UTC+8 without daylight saving since
 * 1979, so a fixed offset is exact and needs no time-zone database.
 */
const TAIPEI_OFFSET_MS = 8 * HOUR_MS;

export interface CalendarDate {
  year: string;
  month: string;
  day: string;
}

export function taipeiDate(now: Date = new Date()): CalendarDate {
  const d = new Date(now.getTime() + TAIPEI_OFFSET_MS);
  return {
    year: String(d.getUTCFullYear()).padStart(4, '0'),
    month: String(d.getUTCMonth() + 1).padStart(2, '0'),
    day: String(d.getUTCDate()).padStart(2, '0'),
  };
}
