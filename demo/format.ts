/** Number formatting and colour maps shared by the charts and the text. */

const SUPERSCRIPT: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };

const SUBSCRIPT: Record<string, string> = { '-': '₋', '0': '₀', '1': '₁', '2': '₂', '3': '₃', '4': '₄', '5': '₅', '6': '₆', '7': '₇', '8': '₈', '9': '₉' };

export function subscript(n: number): string {
  return String(n).replace(/[-0-9]/g, (c) => SUBSCRIPT[c] ?? c);
}

export function superscript(n: number): string {
  return String(n).replace(/[-0-9]/g, (c) => SUPERSCRIPT[c] ?? c);
}

/** 10ᵏ as text: 10²², 10⁻³, 1 for k = 0. */
export function pow10(k: number): string {
  return k === 0 ? '1' : `10${superscript(k)}`;
}

/** A number for people: 3 significant digits, ×10ᵏ outside [1e-3, 1e5); 'non-finite' for NaN/±∞. */
export function sci(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? '+∞' : '−∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(digits)));
  const k = Math.floor(Math.log10(a));
  const m = x / 10 ** k;
  const ms = Number(m.toPrecision(digits));
  // rounding can give 10.0
  if (Math.abs(ms) >= 10) return `${(ms / 10).toString()}×${pow10(k + 1)}`;
  return `${ms}×${pow10(k)}`;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Viridis, 9 stops (matplotlib's), interpolated. t in [0, 1]. */
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

/** Blue–white–red (ColorBrewer RdBu, reversed), 11 stops. t in [0, 1], 0.5 white. */
const DIVERGING: readonly (readonly [number, number, number])[] = [
  [5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240],
  [247, 247, 247], [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31],
];

function interpolate(stops: readonly (readonly [number, number, number])[], t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [stops[i], stops[i + 1]];
  const c = (j: 0 | 1 | 2) => Math.round(a[j] + (b[j] - a[j]) * f);
  return `rgb(${c(0)},${c(1)},${c(2)})`;
}

export const viridis = (t: number): string => interpolate(VIRIDIS, t);
export const diverging = (t: number): string => interpolate(DIVERGING, t);

/** A CSS linear-gradient of a colour map, left to right. */
export function cssGradient(map: (t: number) => string, direction = 'to right'): string {
  const stops = Array.from({ length: 11 }, (_, i) => map(i / 10));
  return `linear-gradient(${direction}, ${stops.join(', ')})`;
}

/** Colours of the series, the same on every chart. */
export const COLORS = {
  delta: '#d9480f',
  deltaFirst: '#f59f00',
  weightGrad: '#1c7ed6',
  /** An LSTM's cell gradient ‖∂L/∂c_t‖. */
  cellGrad: '#0c8599',
  theory: '#495057',
  activation: '#2f9e44',
  gradNorm: '#d9480f',
  loss: '#5f3dc4',
  clip: '#f08c00',
  baseline: '#adb5bd',
  /** The other network of a comparison (the RNN preset's gain 0.95). */
  compare: '#1971c2',
  nonfinite: '#e03131',
  zero: '#212529',
} as const;
