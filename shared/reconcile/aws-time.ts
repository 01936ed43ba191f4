/**
 * Times as AWS writes them into CloudTrail: log files carry `eventTime` as ISO-8601 UTC with a
 * `Z` ("2026-01-02T03:04:05Z"), sometimes with fractional seconds; `aws cloudtrail
 * lookup-events` prints `EventTime` as ISO-8601 with a numeric offset ("…+00:00", or the local
 * zone) or, with `cli_timestamp_format = none` on CLI v1, as Unix seconds. Anything else is
 * refused with the reason: `Date.parse` would take "Jan 2 2026" or "2026-01-02" in a local zone.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

/** The earliest and latest instants accepted: CloudTrail began in 2013; a year past 2200 is a typo. */
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(2200, 0, 1);

export type AwsTime = { readonly ms: number } | { readonly problem: string };

const shown = (value: unknown): string => {
  const text = typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : String(value);
  return text;
};

/** Milliseconds since the epoch for a time AWS wrote, or why it is not one. */
export function parseAwsTime(value: unknown): AwsTime {
  if (typeof value === 'number') {
    // lookup-events with epoch output: seconds, possibly fractional.
    if (!Number.isFinite(value)) return { problem: `time ${shown(value)} is not a finite number` };
    return inRange(Math.round(value * 1000), value);
  }
  if (typeof value !== 'string')
    return {
      problem: value === undefined ? 'time is missing' : `time is a ${value === null ? 'null' : typeof value}, not an ISO-8601 string`,
    };
  const m = ISO.exec(value);
  if (m === null) return { problem: `time ${shown(value)} is not ISO-8601 (yyyy-mm-ddThh:mm:ss[.fff](Z|±hh:mm))` };
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string | undefined,
    string,
  ];
  const parts = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)] as const;
  const [year, month, day, hour, minute, second] = parts;
  // Leap second 60 is not something AWS writes; refusing it keeps the date round-trip exact.
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59)
    return { problem: `time ${shown(value)} has a field out of range` };
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(base).getUTCDate() !== day) return { problem: `time ${shown(value)} names a day its month does not have` };
  const millis = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  let offset = 0;
  if (zone !== 'Z') {
    const digits = zone.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 23 || om > 59) return { problem: `time ${shown(value)} has an offset out of range` };
    offset = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return inRange(base + millis - offset, value);
}

function inRange(ms: number, value: unknown): AwsTime {
  if (ms < EARLIEST || ms >= LATEST) return { problem: `time ${shown(value)} is outside 2000–2199` };
  return { ms };
}

/** The canonical text of an instant in findings: ISO-8601 UTC, milliseconds only when present. */
export function isoTime(ms: number): string {
  const text = new Date(ms).toISOString();
  return text.endsWith('.000Z') ? `${text.slice(0, -5)}Z` : text;
}
