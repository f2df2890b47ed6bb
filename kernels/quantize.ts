import { f16ToF32Unchecked, f32ToF16Unchecked } from "./f16.ts";
import {
  OFFSET_D,
  OFFSET_DMIN,
  OFFSET_QH,
  OFFSET_QS,
  OFFSET_SCALES,
  Q5K_BLOCK_BYTES,
  Q5K_BLOCK_WEIGHTS,
  scaleMinK4,
} from "./q5k_format.ts";
import { allFinite, floats } from "./_validate.ts";

// Ported from llama.cpp's ggml/src/ggml-quants.c (MIT): `nearest_int`,
// `make_qkx2_quants` and `quantize_row_q5_K_ref`. Every float operation is
// rounded to f32 with Math.fround in C's evaluation order so the bytes match
// (the prebuilt library is compiled for baseline x86-64: no FMA contraction).

const fr = Math.fround;
const nearestF32 = new Float32Array(1);
const nearestI32 = new Int32Array(nearestF32.buffer);

/** llama.cpp's round-half-to-even through the 1.5·2^23 magic number. */
function nearestInt(value: number): number {
  nearestF32[0] = value + 12582912;
  return (nearestI32[0] & 0x007fffff) - 0x00400000;
}

/**
 * Weighted least-squares fit of `x ≈ scale·L + min` with L in 0..nmax, trying
 * `nstep + 1` rescalings. Writes L and returns [scale, -min].
 */
function makeQkx2Quants(
  n: number,
  nmax: number,
  x: Float32Array,
  xAt: number,
  weights: Float32Array,
  L: Uint8Array,
  lAt: number,
  laux: Uint8Array,
  rmin: number,
  rdelta: number,
  nstep: number,
): [number, number] {
  let min = x[xAt];
  let max = x[xAt];
  let sumW = weights[0];
  let sumX = fr(sumW * x[xAt]);
  for (let i = 1; i < n; i++) {
    const xi = x[xAt + i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i];
    sumW = fr(sumW + w);
    sumX = fr(sumX + fr(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < n; i++) L[lAt + i] = 0;
    return [0, -min];
  }
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(fr(iscale * fr(x[xAt + i] - min)));
    L[lAt + i] = Math.max(0, Math.min(nmax, l));
    const diff = fr(fr(fr(scale * L[lAt + i]) + min) - x[xAt + i]);
    bestError = fr(bestError + fr(weights[i] * fr(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(fr(iscale * fr(x[xAt + i] - min)));
      l = Math.max(0, Math.min(nmax, l));
      laux[i] = l;
      const w = weights[i];
      const wl = fr(w * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * x[xAt + i]));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = fr(fr(fr(thisScale * laux[i]) + thisMin) - x[xAt + i]);
        curError = fr(curError + fr(weights[i] * fr(diff * diff)));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lAt + i] = laux[i];
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

/**
 * Quantizes f32 weights to Q5_K blocks, byte for byte as llama.cpp's
 * `quantize_row_q5_K_ref` (no importance matrix).
 *
 * @param x Weights; length a multiple of 256, every value finite.
 * @returns 176 bytes per 256 weights.
 * @throws {TypeError} If `x` is not a Float32Array.
 * @throws {RangeError} If `x.length` is not a positive multiple of 256 or `x` holds NaN/±Inf.
 * @example
 * ```ts
 * import { dequantizeQ5K, quantizeQ5K } from "@kquant/webgpu";
 * const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
 * const back = dequantizeQ5K(quantizeQ5K(x)); // within ~3% of x
 * ```
 */
export function quantizeQ5K(x: Float32Array): Uint8Array {
  const action = "quantize Q5_K";
  floats(action, "x", x);
  if (x.length === 0 || x.length % Q5K_BLOCK_WEIGHTS !== 0) {
    throw new RangeError(
      `Cannot ${action}: x length must be a positive multiple of 256, current value is ${x.length}`,
    );
  }
  allFinite(action, "x", x);
  const nb = x.length / Q5K_BLOCK_WEIGHTS;
  const out = new Uint8Array(nb * Q5K_BLOCK_BYTES);
  const L = new Uint8Array(Q5K_BLOCK_WEIGHTS);
  const laux = new Uint8Array(32);
  const weights = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let i = 0; i < nb; i++) {
    const xb = i * Q5K_BLOCK_WEIGHTS;
    const y = i * Q5K_BLOCK_BYTES;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) {
        const v = x[xb + 32 * j + l];
        sumX2 = fr(sumX2 + fr(v * v));
      }
      const avX = fr(Math.sqrt(fr(sumX2 / 32)));
      for (let l = 0; l < 32; l++) {
        weights[l] = fr(avX + Math.abs(x[xb + 32 * j + l]));
      }
      const [scale, min] = makeQkx2Quants(
        32,
        31,
        x,
        xb + 32 * j,
        weights,
        L,
        32 * j,
        laux,
        -0.5,
        fr(0.1),
        15,
      );
      scales[j] = scale;
      mins[j] = min;
      if (scale > maxScale) maxScale = scales[j];
      if (min > maxMin) maxMin = mins[j];
    }
    const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
    const sc = y + OFFSET_SCALES;
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(fr(invScale * scales[j])) & 0xff);
      const lm = Math.min(63, nearestInt(fr(invMin * mins[j])) & 0xff);
      if (j < 4) {
        out[sc + j] = ls;
        out[sc + j + 4] = lm;
      } else {
        out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        out[sc + j - 4] |= (ls >> 4) << 6;
        out[sc + j] |= (lm >> 4) << 6;
      }
    }
    const dBits = f32ToF16Unchecked(fr(maxScale / 63));
    const dminBits = f32ToF16Unchecked(fr(maxMin / 63));
    out[y + OFFSET_D] = dBits & 0xff;
    out[y + OFFSET_D + 1] = dBits >> 8;
    out[y + OFFSET_DMIN] = dminBits & 0xff;
    out[y + OFFSET_DMIN + 1] = dminBits >> 8;
    const d16 = f16ToF32Unchecked(dBits);
    const dmin16 = f16ToF32Unchecked(dminBits);
    for (let j = 0; j < 8; j++) {
      const [s, m] = scaleMinK4(out, sc, j);
      const d = fr(d16 * s);
      if (!d) continue;
      const dm = fr(dmin16 * m);
      for (let ii = 0; ii < 32; ii++) {
        const l = nearestInt(fr(fr(x[xb + 32 * j + ii] + dm) / d));
        L[32 * j + ii] = Math.max(0, Math.min(31, l));
      }
    }
    const qh = y + OFFSET_QH;
    for (let g = 0; g < 4; g++) {
      const ql = y + OFFSET_QS + 32 * g;
      for (let j = 0; j < 32; j++) {
        let l1 = L[64 * g + j];
        let l2 = L[64 * g + j + 32];
        if (l1 > 15) {
          l1 -= 16;
          out[qh + j] |= 1 << (2 * g);
        }
        if (l2 > 15) {
          l2 -= 16;
          out[qh + j] |= 2 << (2 * g);
        }
        out[ql + j] = l1 | (l2 << 4);
      }
    }
  }
  return out;
}
