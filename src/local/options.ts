/**
 * The one check for the numeric options of local mode's parts (gateway, poller, sweeper, Management API, message
 * pump): they are programmatic options, not settings (those go through `config/settings.ts`), but a wrong one must
 * still fail at start with a message that names it.
 */

export interface NumberRange {
  readonly min: number;
  readonly max?: number;
  /** `min` itself is not allowed (e.g. "positive"). */
  readonly aboveMin?: boolean;
  readonly integer?: boolean;
}

/**
 * `value`, or `fallback` when it is undefined, if it is a finite number within `range`; otherwise a `RangeError`
 * naming the option.
 *
 * @example
 * const batchSize = numberOption('batchSize', options.batchSize, 10, { min: 1, max: 100, integer: true });
 */
export function numberOption(name: string, value: number | undefined, fallback: number, range: NumberRange): number {
  const v = value ?? fallback;
  const { min, max = Number.POSITIVE_INFINITY, aboveMin = false, integer = false } = range;
  const ok = Number.isFinite(v) && (aboveMin ? v > min : v >= min) && v <= max && (!integer || Number.isInteger(v));
  if (!ok) {
    const kind = integer ? 'an integer' : 'a number';
    const bounds = `${aboveMin ? 'above' : 'from'} ${min}${max === Number.POSITIVE_INFINITY ? '' : ` to ${max}`}`;
    throw new RangeError(`${name} must be ${kind} ${bounds}, got ${String(value)}`);
  }
  return v;
}
