// Axis ticks for the dashboard's charts, chosen here rather than by recharts: its own ticks on a time
// axis land between seconds and print the same minute several times, and on a small token amount they
// round to the same "0". Each tick here is a distinct round value, printed with the digits that tell it
// apart from its neighbours.

const SECOND = 1;
const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Steps a time axis may use, in seconds: each divides the next unit, so ticks fall on round times. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY];

export interface Ticks {
  ticks: number[];
  format: (value: number) => string;
}

/** Distinct labels only: a later tick that prints like an earlier one is dropped. */
function unique(ticks: number[], format: (value: number) => string): number[] {
  const seen = new Set<string>();
  return ticks.filter((tick) => {
    const label = format(tick);
    if (seen.has(label)) return false;
    seen.add(label);
    return true;
  });
}

/** At most about `count` ticks on round UTC times between `min` and `max` (unix seconds), each printed once. */
export function timeTicks(min: number, max: number, count = 5): Ticks {
  const span = Math.max(max - min, SECOND);
  const step = TIME_STEPS.find((s) => span / s <= count) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const iso = (t: number) => new Date(t * 1000).toISOString();
  const sameYear = iso(min).slice(0, 4) === iso(max).slice(0, 4);
  const sameDay = iso(min).slice(0, 10) === iso(max).slice(0, 10);
  const format = (t: number): string => {
    const text = iso(t);
    const day = sameYear ? text.slice(5, 10) : text.slice(0, 10);
    if (step >= DAY) return day;
    const time = step >= MINUTE ? text.slice(11, 16) : text.slice(11, 19);
    return sameDay ? time : `${day} ${time}`;
  };
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max; t += step) ticks.push(t);
  // A span shorter than one step still shows where it starts and ends.
  if (ticks.length < 2) return { ticks: unique([min, max], format), format };
  return { ticks: unique(ticks, format), format };
}

/** A round step (1, 2, 2.5 or 5 × 10^n) near `raw`. */
function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const factor = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 2.5 ? 2.5 : normalized <= 5 ? 5 : 10;
  return factor * magnitude;
}

/** Digits after the point that print every multiple of `step` exactly (2.5 × 10^n needs one more). */
function fractionDigitsOf(step: number): number {
  for (let digits = 0; digits <= 20; digits++) {
    if (Math.abs(Number(step.toFixed(digits)) - step) <= step * 1e-9) return digits;
  }
  return 20;
}

/**
 * Ticks from 0 to at least `max` on a round step (about `count` of them), for an axis of token amounts
 * (`integer`: of counts, such as queries), printed with as many decimals as the step needs.
 */
export function valueTicks(max: number, { count = 4, integer = false }: { count?: number; integer?: boolean } = {}): Ticks {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  let step = niceStep(top / count);
  if (integer) step = Math.max(1, Math.ceil(step));
  const digits = integer ? 0 : fractionDigitsOf(step);
  const format = (value: number) => value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const ticks: number[] = [];
  const steps = Math.ceil(top / step - 1e-9);
  for (let i = 0; i <= steps; i++) ticks.push(Number((i * step).toFixed(digits)));
  return { ticks: unique(ticks, format), format };
}

/** Pixels a value axis needs for its longest label at 11 px (about 6.5 px a character, plus the tick). */
export function axisWidth({ ticks, format }: Ticks): number {
  const longest = Math.max(...ticks.map((tick) => format(tick).length));
  return Math.max(32, Math.ceil(longest * 6.5) + 12);
}
