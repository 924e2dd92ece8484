import erfc from '@stdlib/math-base-special-erfc';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/*
 * Student's t, with df = Infinity meaning the normal distribution (a variance that is stated, not
 * estimated: a noise floor). Every interval and test of the statistics module goes through these two.
 */

/** The p-quantile of Student's t with df degrees of freedom. */
export function studentQuantile(p: number, df: number): number {
  return df === Number.POSITIVE_INFINITY ? normalQuantile(p, 0, 1) : tQuantile(p, df);
}

/** P(T <= t) for Student's t with df degrees of freedom. */
export function studentCdf(t: number, df: number): number {
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  return df === Number.POSITIVE_INFINITY ? erfc(-t / Math.SQRT2) / 2 : tCdf(t, df);
}
