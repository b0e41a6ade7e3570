/**
 * The instants Tracedeck stores. PostgreSQL's timestamptz reaches 4713 BC to 294276 AD and a JS
 * Date ±275760 years, but PostgreSQL refuses year 0 and a sign or a fifth digit in the ISO text
 * Prisma sends it: so years 0001 to 9999, in UTC, both ends included.
 */
export const EARLIEST_INSTANT = new Date("0001-01-01T00:00:00.000Z");
export const LATEST_INSTANT = new Date("9999-12-31T23:59:59.999Z");

/** Why a Date cannot be stored, or undefined when it can. */
export function instantProblem(date: Date): string | undefined {
  const ms = date.getTime();
  if (Number.isNaN(ms)) return "must be a valid date";
  if (ms < EARLIEST_INSTANT.getTime() || ms > LATEST_INSTANT.getTime())
    return `must be from ${EARLIEST_INSTANT.toISOString()} to ${LATEST_INSTANT.toISOString()}`;
  return undefined;
}

// RFC 3339 section 5.6 (its ABNF is case-insensitive: "t" and "z" are allowed too). No space
// separator, no zone-less time: a time without a zone would be read in the server's own zone.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const daysIn = (year: number, month: number) => (month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31);

export type DateTimeParse = { ok: true; date: Date } | { ok: false; problem: string };

/**
 * Parses an RFC 3339 date-time with its zone into an instant, or says what is wrong with it.
 * Digits beyond milliseconds are truncated. A leap second (:60) is refused: a Date cannot hold
 * it, and moving it silently to the next second would reorder it against its neighbours.
 */
export function parseDateTime(text: string): DateTimeParse {
  const match = RFC3339.exec(text);
  if (!match) return { ok: false, problem: "must be an RFC 3339 date-time with a zone (Z or ±hh:mm), e.g. 2026-11-24T21:08:15.123Z" };
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = match[7] ?? "";
  const sign = match[9] === "-" ? -1 : 1;
  const offsetHours = Number(match[10] ?? 0);
  const offsetMinutes = Number(match[11] ?? 0);
  if (month < 1 || month > 12) return { ok: false, problem: `has month ${match[2]}; months are 01 to 12` };
  if (day < 1 || day > daysIn(year, month)) return { ok: false, problem: `has day ${match[3]}, but ${MONTHS[month - 1]} ${match[1]} has ${daysIn(year, month)} days` };
  if (hour > 23) return { ok: false, problem: `has hour ${match[4]}; hours are 00 to 23` };
  if (minute > 59) return { ok: false, problem: `has minute ${match[5]}; minutes are 00 to 59` };
  if (second === 60) return { ok: false, problem: "is a leap second (:60), which cannot be stored; use :59.999" };
  if (second > 59) return { ok: false, problem: `has second ${match[6]}; seconds are 00 to 59` };
  if (offsetHours > 23 || offsetMinutes > 59) return { ok: false, problem: `has zone offset ${match[9]}${match[10]}:${match[11]}; offsets are 00:00 to 23:59` };
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, "0")));
  date.setTime(date.getTime() - sign * (offsetHours * 60 + offsetMinutes) * 60_000);
  const problem = instantProblem(date);
  return problem ? { ok: false, problem: `is ${date.getTime() < 0 ? "before" : "after"} the storable range: it ${problem} in UTC` } : { ok: true, date };
}
