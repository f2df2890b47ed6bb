/**
 * How outputs are compared with llama.cpp: non-finite values first, then the
 * NMSE bound of llama.cpp's test-backend-ops, or ulps for exact kernels.
 *
 * @module
 */

/** The result of one comparison. */
export interface Comparison {
  ok: boolean;
  /** Σ(a−b)² / Σb², the normalized mean squared error (b is the reference). */
  nmse: number;
  /** Largest distance in units in the last place (f32), for exact comparisons. */
  maxUlp: number;
  /** Why it failed, or "" when ok. */
  detail: string;
}

const f32 = new Float32Array(2);
const i32 = new Int32Array(f32.buffer);

/** Distance between two f32 values in representable steps (±0 are equal). */
export function ulpDistance(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  f32[0] = a;
  f32[1] = b;
  const ordered = (i: number) => (i < 0 ? -0x80000000 - i : i);
  return Math.abs(ordered(i32[0]) - ordered(i32[1]));
}

/** Index and values of the first place where NaN/±Inf differ, or null. */
export function firstNonFiniteMismatch(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): string | null {
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isFinite(a) && Number.isFinite(b)) continue;
    if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
    return `non-finite mismatch at index ${i}: got ${a}, expected ${b}`;
  }
  return null;
}

/** A failed comparison when lengths differ or NaN/±Inf do not match; else null. */
function shapeOrNonFinite(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): Comparison | null {
  const detail = actual.length !== expected.length
    ? `length ${actual.length} != ${expected.length}`
    : firstNonFiniteMismatch(actual, expected);
  return detail ? { ok: false, nmse: Infinity, maxUlp: Infinity, detail } : null;
}

/**
 * Compares by NMSE after the non-finite check; a NaN anywhere fails unless the
 * reference has NaN in the same place.
 */
export function compareNmse(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  bound: number,
): Comparison {
  const failed = shapeOrNonFinite(actual, expected);
  if (failed) return failed;
  let num = 0;
  let den = 0;
  let worst = -1;
  let worstErr = -1;
  for (let i = 0; i < actual.length; i++) {
    const b = expected[i];
    if (!Number.isFinite(b)) continue;
    const d = actual[i] - b;
    num += d * d;
    den += b * b;
    if (Math.abs(d) > worstErr) [worst, worstErr] = [i, Math.abs(d)];
  }
  const nmse = den === 0 ? (num === 0 ? 0 : Infinity) : num / den;
  const ok = nmse <= bound;
  const at = worst < 0
    ? ""
    : `; worst at index ${worst}: got ${actual[worst]}, expected ${expected[worst]}`;
  return {
    ok,
    nmse,
    maxUlp: NaN,
    detail: ok ? "" : `NMSE ${nmse.toExponential(3)} > ${bound}${at}`,
  };
}

/** Compares element by element in f32 ulps after the non-finite check. */
export function compareUlp(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  maxUlp: number,
): Comparison {
  const failed = shapeOrNonFinite(actual, expected);
  if (failed) return failed;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < actual.length; i++) {
    const u = ulpDistance(actual[i], expected[i]);
    if (u > worst) {
      worst = u;
      worstAt = i;
    }
  }
  const ok = worst <= maxUlp;
  const nmse = compareNmse(actual, expected, Infinity).nmse;
  return {
    ok,
    nmse,
    maxUlp: worst,
    detail: ok
      ? ""
      : `${worst} ulp at index ${worstAt}: got ${actual[worstAt]}, expected ${expected[worstAt]}`,
  };
}

/** The f64 reference y = x·Wᵀ for M×K activations and N×K dequantized weights. */
export function referenceLinear(
  x: Float32Array,
  w: Float32Array,
  m: number,
  n: number,
  k: number,
): Float64Array {
  const y = new Float64Array(m * n);
  for (let j = 0; j < n; j++) {
    const row = j * k;
    for (let i = 0; i < m; i++) {
      const xr = i * k;
      let s = 0;
      for (let t = 0; t < k; t++) s += x[xr + t] * w[row + t];
      y[i * n + j] = s;
    }
  }
  return y;
}

/**
 * NMSE against `ref` of the ideal 8-bit scheme on the same data: x quantized
 * per 32 values (d = max|x|/127, round to nearest, as llama.cpp's q8_1) and
 * multiplied in f64 with the dequantized weights. The int8 path cannot beat
 * it; on activations with outlier channels its bound is a small multiple of it.
 */
export function idealInt8Nmse(
  x: Float32Array,
  w: Float32Array,
  ref: Float64Array,
  m: number,
  n: number,
  k: number,
): number {
  const xq = new Float64Array(x.length);
  for (let r = 0; r < x.length; r += 32) {
    let amax = 0;
    for (let i = r; i < r + 32; i++) amax = Math.max(amax, Math.abs(x[i]));
    const d = amax / 127;
    for (let i = r; i < r + 32; i++) xq[i] = d === 0 ? 0 : Math.round(x[i] / d) * d;
  }
  let num = 0;
  let den = 0;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += xq[i * k + t] * w[j * k + t];
      num += (s - ref[i * n + j]) ** 2;
      den += ref[i * n + j] ** 2;
    }
  }
  return den === 0 ? 0 : num / den;
}
