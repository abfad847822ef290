/**
 * The demo's chart axes for magnitudes from 1e-300 to 1e308 (demo/log-axis.ts):
 * the charts plot log10 of a norm on a linear axis; these are its range, its
 * ticks and their labels. Pure functions, no browser.
 */
import { describe, expect, it } from 'vitest';
import { decadeLabel, decadeRange, decadeTicks, formatLog10, linearExponent, log10OrNull, scaleDown, scaledLabel } from '../../demo/log-axis.ts';

/** 10ᵏ as the labels write it, read back: '10⁻³⁰⁰' → -300, '1' → 0; NaN for anything else. */
function exponentOf(label: string): number {
  if (label === '1') return 0;
  const m = /^10([⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.exec(label);
  if (!m) return NaN;
  const digits = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  return Number(Array.from(m[1]).map((c) => (c === '⁻' ? '-' : String(digits.indexOf(c)))).join(''));
}

/** The labels of an axis over data from `lo` to `hi` (magnitudes), as a chart computes them. */
function axisLabels(lo: number, hi: number, maxTicks = 9): { range: [number, number]; ticks: number[]; labels: string[] } {
  const range = decadeRange(log10OrNull(lo), log10OrNull(hi));
  const ticks = decadeTicks(range[0], range[1], maxTicks);
  return { range, ticks, labels: ticks.map(decadeLabel) };
}

describe('log10 axes: every finite magnitude from 1e-300 to 1e308 gets readable whole-decade labels', () => {
  const extremes: [number, number][] = [
    [1e-300, 1e-300],
    [1e-300, 1e-290],
    [1, 1e30],
    [1, 1e33], // past uPlot's own log axis (its increments end at 1e32)
    [1e-5, 1e40],
    [1e30, 1e300],
    [1e300, 1.7e308],
    [1e-300, 1e308],
    [Number.MIN_VALUE, Number.MAX_VALUE],
  ];
  for (const [lo, hi] of extremes) {
    it(`data from ${lo} to ${hi}: at least two labels, 10ᵏ at whole decades, spanning the data, at most 9`, () => {
      const { range, ticks, labels } = axisLabels(lo, hi);
      expect(range[0]).toBeLessThanOrEqual(Math.log10(lo));
      expect(range[1]).toBeGreaterThanOrEqual(Math.log10(hi));
      expect(range[1] - range[0]).toBeGreaterThanOrEqual(2);
      expect(Number.isInteger(range[0]) && Number.isInteger(range[1])).toBe(true);
      expect(labels.length).toBeGreaterThanOrEqual(2);
      expect(labels.length).toBeLessThanOrEqual(9);
      labels.forEach((label, i) => expect(exponentOf(label), label).toBe(ticks[i]));
      // Evenly spaced, inside the axis range, and no tick more than one step outside the data.
      const step = ticks[1] - ticks[0];
      for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBe(step);
      expect(ticks[0]).toBeGreaterThanOrEqual(range[0]);
      expect(ticks[ticks.length - 1]).toBeLessThanOrEqual(range[1]);
      expect(ticks[0] - Math.log10(lo)).toBeLessThanOrEqual(step + 1);
    });
  }

  it('labels read as powers of ten at both ends of float64', () => {
    expect(decadeLabel(300)).toBe('10³⁰⁰');
    expect(decadeLabel(-300)).toBe('10⁻³⁰⁰');
    expect(decadeLabel(308)).toBe('10³⁰⁸');
    expect(decadeLabel(0)).toBe('1');
    expect(decadeLabel(32)).toBe('10³²');
    expect(decadeLabel(33)).toBe('10³³');
    expect(axisLabels(1e-300, 1e308).labels).toEqual(['10⁻³⁰⁰', '10⁻²⁰⁰', '10⁻¹⁰⁰', '1', '10¹⁰⁰', '10²⁰⁰', '10³⁰⁰']);
    expect(axisLabels(1e300, 1.7e308).labels).toEqual(['10³⁰⁰', '10³⁰²', '10³⁰⁴', '10³⁰⁶', '10³⁰⁸']);
  });

  it('the labels keep every decade when they fit, then every 2nd, 5th, 10th…', () => {
    expect(decadeTicks(0, 8, 9)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(decadeTicks(0, 9, 9)).toEqual([0, 2, 4, 6, 8]);
    expect(decadeTicks(-2, 40, 8)).toEqual([0, 10, 20, 30, 40]);
  });

  it('zoomed in below a decade, ticks at 1, 2 and 5 times a power of ten', () => {
    const ticks = decadeTicks(Math.log10(1.5e300), Math.log10(6e300), 9);
    expect(ticks.map((t) => decadeLabel(t))).toEqual(['2×10³⁰⁰', '5×10³⁰⁰']);
  });

  it('no data, zeros and non-finite values: a gap, and a default axis of two decades', () => {
    for (const x of [0, -1, NaN, Infinity, -Infinity, null, undefined]) expect(log10OrNull(x)).toBeNull();
    expect(decadeRange(null, null)).toEqual([-1, 1]);
    expect(decadeTicks(-1, 1, 9).map(decadeLabel)).toEqual(['10⁻¹', '1', '10¹']);
    expect(log10OrNull(1e-300)).toBeCloseTo(-300, 12);
    expect(log10OrNull(1e308)).toBeCloseTo(308, 12);
  });

  it('legend values from their log10, past float64 too', () => {
    expect(formatLog10(Math.log10(3.16e300))).toBe('3.16×10³⁰⁰');
    expect(formatLog10(-300)).toBe('10⁻³⁰⁰');
    expect(formatLog10(400.5)).toBe('3.16×10⁴⁰⁰');
    expect(formatLog10(Math.log10(0.025))).toBe('0.025');
    expect(formatLog10(Math.log10(12345))).toBe('12300');
    expect(formatLog10(-Infinity)).toBe('0');
  });
});

describe('signed values of any magnitude on a linear axis (the probe loss)', () => {
  it('values of order 1 are plotted as they are', () => {
    expect(linearExponent([0.5, -3, null, NaN])).toBe(0);
    expect(scaledLabel(-2.5, 0)).toBe('-2.5');
  });

  for (const [largest, k] of [
    [-3.2e40, 40],
    [1.7e308, 308],
    [4e-300, -300],
  ] as const) {
    it(`largest |value| ${largest}: plotted / 10^${k}, labels carry the exponent`, () => {
      expect(linearExponent([largest, largest / 7, 0])).toBe(k);
      const scaled = scaleDown(largest, k);
      expect(Number.isFinite(scaled)).toBe(true);
      expect(Math.abs(scaled)).toBeGreaterThanOrEqual(1);
      expect(Math.abs(scaled)).toBeLessThan(10);
      const mantissa = Number((largest / 10 ** k).toPrecision(3));
      expect(scaledLabel(scaled, k)).toBe(`${mantissa < 0 ? '-' : ''}${Math.abs(mantissa)}×10${k < 0 ? '⁻' : ''}${String(Math.abs(k)).replace(/\d/g, (d) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[Number(d)])}`);
      expect(scaledLabel(0, k)).toBe('0');
      expect(scaledLabel(-1, k)).toBe(`-1×10${k < 0 ? '⁻' : ''}${String(Math.abs(k)).replace(/\d/g, (d) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[Number(d)])}`);
    });
  }
});
