/** A hash or id cut to a readable prefix; the full value stays in the tooltip. */
export function shortHash(value: string, length = 12): string {
  return value.length > length ? `${value.slice(0, length)}…` : value;
}
