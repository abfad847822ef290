/**
 * Axes for magnitudes of any size, 1e-300 to 1e308 and beyond: the charts
 * plot log10 of a norm on a linear axis, and these functions choose its range,
 * its ticks (whole decades) and their labels (10ᵏ), in exponent space.
 *
 * Why not uPlot's own log scale (distr 3): it picks a tick increment from a
 * fixed table that ends at 1e32 (`findIncr`), so once the data span more than
 * about 32 decades of magnitude no increment fits and the axis draws no
 * ticks at all. Exponents stay below 400 in size, where any float arithmetic
 * is exact enough. Pure functions, no DOM: tests/unit/log-axis.test.ts.
 */
import { pow10, sci } from './format.ts';

/** log10 of a positive finite magnitude; null (a gap on the chart) for 0, negatives, NaN, ±∞ and null. */
export function log10OrNull(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) && x > 0 ? Math.log10(x) : null;
}

/** The axis range of log10 data: snapped out to whole decades, at least two decades wide. */
export function decadeRange(min: number | null | undefined, max: number | null | undefined): [number, number] {
  if (typeof min !== 'number' || typeof max !== 'number' || !Number.isFinite(min) || !Number.isFinite(max) || max < min) return [-1, 1];
  // A hair of tolerance: log10(1e5) may come back as 4.999999999999999.
  let lo = Math.floor(min + 1e-9);
  let hi = Math.ceil(max - 1e-9);
  if (hi - lo < 2) {
    const mid = (lo + hi) / 2;
    lo = Math.floor(mid - 1);
    hi = Math.ceil(mid + 1);
  }
  return [lo, hi];
}

/** Decade steps between ticks, smallest first: 1, 2, 5, 10, 20, 25, 50, 100… decades. */
const DECADE_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000];

/**
 * Tick positions (exponents) for an axis over [min, max] in log10 units: the
 * whole decades at multiples of the smallest step that keeps at most
 * `maxTicks` of them. Zoomed in below two decades, the 1-2-5 values within the
 * range; if even those are fewer than two, the range's ends.
 */
export function decadeTicks(min: number, max: number, maxTicks: number): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || max < min) return [];
  const lo = Math.ceil(min - 1e-9);
  const hi = Math.floor(max + 1e-9);
  if (hi - lo + 1 >= 2) {
    const step = DECADE_STEPS.find((s) => Math.floor(hi / s) - Math.ceil(lo / s) + 1 <= maxTicks) ?? Math.ceil((hi - lo + 1) / maxTicks);
    const out: number[] = [];
    // `+ 0` turns −0 (Math.ceil(-0.5)) into 0.
    for (let k = Math.ceil(lo / step) * step + 0; k <= hi; k += step) out.push(k);
    return out;
  }
  const out: number[] = [];
  for (let k = Math.floor(min) - 1; k <= Math.ceil(max); k++) {
    for (const m of [1, 2, 5]) {
      const v = k + Math.log10(m);
      if (v >= min - 1e-9 && v <= max + 1e-9) out.push(v);
    }
  }
  return out.length >= 2 ? out : [min, max];
}

/** Splits the mantissa and exponent of 10^l: 10^l = m × 10^k with m in [1, 10) to `digits` significant digits. */
function mantissaExponent(l: number, digits: number): { m: number; k: number } {
  let k = Math.floor(l);
  let m = Number((10 ** (l - k)).toPrecision(digits));
  if (m >= 10) {
    m /= 10;
    k += 1;
  }
  return { m, k };
}

/**
 * A magnitude given by its log10, as text: 3.16×10³⁰⁰, 10⁻³⁰⁰, 0.025, 1.2×10⁴⁰⁰
 * (past float64, where only the exponent exists). Plain digits in [1e-3, 1e5), as `sci`.
 */
export function formatLog10(l: number, digits = 3): string {
  if (!Number.isFinite(l)) return l === -Infinity ? '0' : Number.isNaN(l) ? 'NaN' : '+∞';
  const { m, k } = mantissaExponent(l, digits);
  if (k >= -3 && k < 5) return sci(m * 10 ** k, digits);
  return m === 1 ? pow10(k) : `${m}×${pow10(k)}`;
}

/** A tick label at exponent l: 10ᵏ at a whole decade (1 and 10¹ included), else the value as formatLog10 writes it. */
export function decadeLabel(l: number): string {
  const k = Math.round(l);
  if (Math.abs(l - k) < 1e-6) return pow10(k);
  return formatLog10(l, 2);
}

// ---------------------------------------------------------------------------
// Signed values of any magnitude on a linear axis (the probe loss Σ g⊙y)

/**
 * The exponent k to plot signed values as v / 10^k: the decade of the largest
 * |v| when it lies outside [1e-3, 1e5), else 0. uPlot's linear axes find no
 * tick increment for spans past 1e32 (or below 1e-32), so the chart plots
 * values of order 1 and the labels carry the ×10ᵏ.
 */
export function linearExponent(values: readonly (number | null)[]): number {
  let largest = 0;
  for (const v of values) if (v !== null && Number.isFinite(v)) largest = Math.max(largest, Math.abs(v));
  if (largest === 0 || (largest >= 1e-3 && largest < 1e5)) return 0;
  return Math.floor(Math.log10(largest));
}

/** v / 10^k without overflowing the power of ten (k may be ±320). */
export function scaleDown(v: number, k: number): number {
  const half = Math.trunc(k / 2);
  return v * 10 ** -half * 10 ** -(k - half);
}

/**
 * A tick or legend value s of an axis scaled by 10^k, as the full number:
 * -2.5×10⁴⁰, -1×10⁴⁰ (the mantissa always, like its neighbours), 0.
 */
export function scaledLabel(s: number, k: number, digits = 3): string {
  if (!Number.isFinite(s)) return sci(s);
  if (s === 0) return '0';
  if (k === 0) return sci(s, digits);
  const { m, k: exponent } = mantissaExponent(Math.log10(Math.abs(s)) + k, digits);
  const sign = s < 0 ? '-' : '';
  if (exponent >= -3 && exponent < 5) return `${sign}${sci(m * 10 ** exponent, digits)}`;
  return `${sign}${m}×${pow10(exponent)}`;
}
