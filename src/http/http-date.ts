/**
 * HTTP-date (RFC 9110 §5.6.7): format as IMF-fixdate; parse IMF-fixdate and the two obsolete
 * forms (RFC 850, asctime). Dates are case-sensitive and always GMT.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const DAY_L = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';

/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850_DATE = new RegExp(`^${DAY_L}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** `Sun Nov  6 08:49:37 1994` (day is 2DIGIT or SP DIGIT) */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} (\\d{2}| \\d) ${TIME} (\\d{4})$`);

/** Largest instant IMF-fixdate can carry (4-digit year): 9999-12-31T23:59:59Z. */
const MAX_MS = 253402300799000;
/** Smallest: 0000-01-01T00:00:00Z. */
const MIN_MS = -62167219200000;

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * IMF-fixdate for a time in ms since the epoch, truncated to the second (`Sun, 06 Nov 1994
 * 08:49:37 GMT`). Throws RangeError outside years 0000..9999 or for a non-finite value.
 */
export function formatHttpDate(ms: number): string {
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS + 999) {
    throw new RangeError(`time ${ms} cannot be written as an HTTP-date`);
  }
  const d = new Date(ms);
  const year = String(d.getUTCFullYear()).padStart(4, '0');
  return (
    `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${year} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`
  );
}

function daysInMonth(year: number, month: number): number {
  if (month !== 1) return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month] ?? 0;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return leap ? 29 : 28;
}

/** Checks field ranges and builds the instant; null when a field is out of range. */
function toMs(year: number, monthName: string, day: number, h: number, m: number, s: number): number | null {
  const month = (MONTHS as readonly string[]).indexOf(monthName);
  // second 60 is allowed by the grammar (leap second); Date rolls it into the next minute.
  if (month < 0 || day < 1 || day > daysInMonth(year, month) || h > 23 || m > 59 || s > 60) return null;
  const d = new Date(0);
  d.setUTCFullYear(year, month, day); // not Date.UTC: it maps years 0..99 to 1900..1999
  d.setUTCHours(h, m, s, 0);
  return d.getTime();
}

/**
 * Parses an HTTP-date in any of the three forms (surrounding whitespace allowed) to ms since the
 * epoch, or null when invalid. The weekday name must be a valid name but is not checked against
 * the date (as Go and nginx do). A two-digit RFC 850 year more than 50 years after `nowMs` is
 * taken as the most recent past year with those digits (§5.6.7).
 */
export function parseHttpDate(s: string, nowMs: number = Date.now()): number | null {
  const v = s.replace(/^[ \t]+|[ \t]+$/g, '');
  let m = IMF_FIXDATE.exec(v);
  if (m) return toMs(Number(m[3]), m[2] ?? '', Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = ASCTIME_DATE.exec(v);
  if (m) return toMs(Number(m[6]), m[1] ?? '', Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
  m = RFC850_DATE.exec(v);
  if (m) {
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = nowYear - (nowYear % 100) + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return toMs(year, m[2] ?? '', Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  return null;
}
