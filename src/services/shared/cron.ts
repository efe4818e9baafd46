/**
 * A small 5-field cron (minute hour day-of-month month day-of-week), evaluated in UTC: `*`, lists, ranges, steps
 * (`*\/15`, `1-30/5`), weekday 0-7 (0 and 7 are Sunday). As in Vixie cron, when both day fields are restricted a
 * day matches if either does. No names (JAN, MON) and no `@daily` macros: keep schedules plain.
 */
export interface Cron {
  source: string;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  daysRestricted: boolean;
  weekdaysRestricted: boolean;
}

const MINUTE = 60_000;

function parseField(text: string, min: number, max: number, what: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`cron ${what} field "${text}": cannot parse "${part}"`);
    const [, range, stepText] = m;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw new Error(`cron ${what} field "${text}": step must be ≥ 1`);
    let lo = min;
    let hi = max;
    if (range !== "*") {
      const [a, b] = range!.split("-").map(Number);
      lo = a!;
      hi = b ?? (stepText === undefined ? a! : max);
    }
    if (lo < min || hi > max || lo > hi)
      throw new Error(`cron ${what} field "${text}": ${part} is outside ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

export function parseCron(expr: string): Cron {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5)
    throw new Error(`cron "${expr}": expected 5 fields (minute hour day month weekday), got ${fields.length}`);
  const [mi, ho, dm, mo, dw] = fields as [string, string, string, string, string];
  const weekdays = parseField(dw, 0, 7, "weekday");
  if (weekdays.delete(7)) weekdays.add(0);
  const days = parseField(dm, 1, 31, "day-of-month");
  return {
    source: expr,
    minutes: parseField(mi, 0, 59, "minute"),
    hours: parseField(ho, 0, 23, "hour"),
    days,
    months: parseField(mo, 1, 12, "month"),
    weekdays,
    daysRestricted: !dm.startsWith("*"),
    weekdaysRestricted: !dw.startsWith("*"),
  };
}

function dayMatches(c: Cron, d: Date): boolean {
  const dom = c.days.has(d.getUTCDate());
  const dow = c.weekdays.has(d.getUTCDay());
  if (c.daysRestricted && c.weekdaysRestricted) return dom || dow;
  if (c.daysRestricted) return dom;
  if (c.weekdaysRestricted) return dow;
  return true;
}

/** Search limit: an expression such as "0 0 31 2 *" never fires; give up after ~5 years of candidate days. */
const MAX_STEPS = 5 * 366 * 24 * 2;

/** The first slot strictly after `after` (whole minutes, UTC). */
export function nextSlot(cron: Cron | string, after: Date): Date {
  const c = typeof cron === "string" ? parseCron(cron) : cron;
  let t = Math.floor(after.getTime() / MINUTE) * MINUTE + MINUTE;
  for (let i = 0; i < MAX_STEPS; i++) {
    const d = new Date(t);
    if (!c.months.has(d.getUTCMonth() + 1)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    } else if (!dayMatches(c, d)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    } else if (!c.hours.has(d.getUTCHours())) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
    } else if (!c.minutes.has(d.getUTCMinutes())) {
      t += MINUTE;
    } else {
      return d;
    }
  }
  throw new Error(`cron "${c.source}" has no slot within 5 years of ${after.toISOString()}`);
}

/** The latest slot at or before `at` (whole minutes, UTC). */
export function previousSlot(cron: Cron | string, at: Date): Date {
  const c = typeof cron === "string" ? parseCron(cron) : cron;
  let t = Math.floor(at.getTime() / MINUTE) * MINUTE;
  for (let i = 0; i < MAX_STEPS; i++) {
    const d = new Date(t);
    if (!c.months.has(d.getUTCMonth() + 1)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) - MINUTE; // last minute of the previous month
    } else if (!dayMatches(c, d)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - MINUTE;
    } else if (!c.hours.has(d.getUTCHours())) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()) - MINUTE;
    } else if (!c.minutes.has(d.getUTCMinutes())) {
      t -= MINUTE;
    } else {
      return d;
    }
  }
  throw new Error(`cron "${c.source}" has no slot within 5 years before ${at.toISOString()}`);
}
