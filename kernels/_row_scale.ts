// Keeping run()'s activations inside the range every kernel path handles.
//
// Outside 2⁻⁶⁴…2⁶⁴ per row the kernels lose accuracy in different ways: the
// 24-bit and int8 paths' per-32 scale max|x|/(127·2¹⁶) or max|x|/127
// underflows for rows of values ≤ ~1e-32 (≤ ~1e-37 for int8), and the f32
// mat-vec's factored min term (d·sc·Σq·x − dmin·m·Σx) overflows to ±Inf for
// values near 1e36..1e38 where the f64 result is finite. Multiplying a row by
// a power of two is exact while its values stay normal f32, and y's row
// scales back by the inverse, so scaled rows get the accuracy of ordinary
// ones.

/** Rows whose largest |x| lies in LOW…HIGH run as they are. */
export const SAFE_LOW = 2 ** -64;
/** See {@linkcode SAFE_LOW}. */
export const SAFE_HIGH = 2 ** 64;

/** The scaled copy of x and each row's exponent e (x·2^e ran; y·2^-e comes back). */
export interface RowScales {
  scaled: Float32Array;
  exponents: Int16Array;
}

/**
 * Checks that x is finite and, where a row's largest |value| lies outside
 * {@linkcode SAFE_LOW}…{@linkcode SAFE_HIGH}, returns x with those rows scaled
 * by a power of two that brings their largest value near 1; null when no row
 * needs it (the common case costs one read of x).
 *
 * @throws {RangeError} Naming the first NaN or ±Inf and its index.
 */
export function rowScales(action: string, x: Float32Array, m: number, k: number): RowScales | null {
  let exponents: Int16Array | null = null;
  for (let r = 0; r < m; r++) {
    let amax = 0;
    const end = (r + 1) * k;
    for (let i = r * k; i < end; i++) {
      const a = Math.abs(x[i]);
      // NaN fails every comparison, so test finiteness explicitly.
      if (!(a <= Number.MAX_VALUE)) {
        throw new RangeError(
          `Cannot ${action}: x must be finite, current value at index ${i} is ${x[i]}`,
        );
      }
      if (a > amax) amax = a;
    }
    if (amax > SAFE_HIGH || (amax > 0 && amax < SAFE_LOW)) {
      exponents ??= new Int16Array(m);
      exponents[r] = -Math.round(Math.log2(amax));
    }
  }
  if (!exponents) return null;
  const scaled = x.slice();
  for (let r = 0; r < m; r++) {
    const e = exponents[r];
    if (e === 0) continue;
    const f = 2 ** e;
    for (let i = r * k; i < (r + 1) * k; i++) scaled[i] = x[i] * f;
  }
  return { scaled, exponents };
}

/**
 * Scales y's rows back: y·2^-e, or with a bias (which the kernel added
 * unscaled) (y − b)·2^-e + b, in f64 before the one rounding to f32.
 */
export function unscaleRows(
  y: Float32Array,
  exponents: Int16Array,
  n: number,
  bias: Float32Array | null,
): void {
  for (let r = 0; r < exponents.length; r++) {
    const e = exponents[r];
    if (e === 0) continue;
    const f = 2 ** -e;
    for (let j = 0; j < n; j++) {
      const i = r * n + j;
      y[i] = bias ? (y[i] - bias[j]) * f + bias[j] : y[i] * f;
    }
  }
}
