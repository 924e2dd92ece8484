/* Numbers as every report prints them. */

const SI = [
  { factor: 1e9, suffix: 'G' },
  { factor: 1e6, suffix: 'M' },
  { factor: 1e3, suffix: 'k' },
];

/** Three significant digits, SI suffixes for large numbers: 5.65M, 62.5k, 0.340, 20.5. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  for (const { factor, suffix } of SI) {
    if (Math.abs(value) >= factor) return `${(value / factor).toPrecision(3)}${suffix}`;
  }
  return value === 0 ? '0' : value.toPrecision(3);
}

export function formatPercent(fraction: number): string {
  const percent = fraction * 100;
  return `${percent < 10 ? percent.toFixed(1) : Math.round(percent)}%`;
}

/**
 * "±25%": how far an interval reaches from 1. Two rounds can give an interval of [0.00, 1765]: past
 * ±999% the digits say nothing more, so it reads "±>999%".
 */
export function formatReach(fraction: number): string {
  return fraction > 9.99 ? '±>999%' : `±${formatPercent(fraction)}`;
}

/** "+5.0%" or "-12%": a signed relative change. */
export function formatSignedPercent(fraction: number): string {
  return `${fraction >= 0 ? '+' : '-'}${formatPercent(Math.abs(fraction))}`;
}

/** A wall time: "0.8s", "45s", "3m10s", "1h02m" (to the second below an hour, to the minute above). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return String(seconds);
  if (seconds < 10) return `${Number(seconds.toFixed(1))}s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  const minutes = Math.round(whole / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
