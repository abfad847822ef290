/**
 * Elementwise comparison |gpu − ref| ≤ atol + rtol·scale_i, where scale_i is
 * |ref_i| or, for sums, the magnitude Σ|terms| that bounds their rounding
 * error. Returns a report naming the worst element, for failure messages
 * that show the GPU value next to the accepted interval.
 */
export interface CloseReport {
  ok: boolean;
  maxAbsError: number;
  worst: { index: number; gpu: number; ref: number; allowed: number } | null;
  failures: number;
}

export function compareClose(
  gpu: ArrayLike<number>,
  ref: ArrayLike<number>,
  tolerance: { atol: number; rtol: number },
  scale: ArrayLike<number> = Array.from(ref, Math.abs),
): CloseReport {
  if (gpu.length !== ref.length) throw new Error(`length ${gpu.length} ≠ reference length ${ref.length}`);
  let maxAbsError = 0;
  let worstExcess = -Infinity;
  let worst: CloseReport['worst'] = null;
  let failures = 0;
  for (let i = 0; i < ref.length; i++) {
    const error = Math.abs(gpu[i] - ref[i]);
    const allowed = tolerance.atol + tolerance.rtol * Math.abs(scale[i]);
    const bad = !(error <= allowed); // NaN fails
    if (bad) failures++;
    if (error > maxAbsError || Number.isNaN(error)) maxAbsError = Number.isNaN(error) ? NaN : error;
    const excess = Number.isNaN(error) ? Infinity : error - allowed;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = { index: i, gpu: gpu[i], ref: ref[i], allowed };
    }
  }
  return { ok: failures === 0, maxAbsError, worst, failures };
}

export function describeReport(report: CloseReport): string {
  if (!report.worst) return 'empty';
  const w = report.worst;
  return `${report.failures} element(s) out of tolerance; worst [${w.index}]: gpu ${w.gpu} vs ref ${w.ref} (|Δ| ${Math.abs(w.gpu - w.ref).toExponential(3)} > allowed ${w.allowed.toExponential(3)})`;
}
