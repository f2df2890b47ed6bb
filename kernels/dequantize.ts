import { f16ToF32Unchecked } from "./f16.ts";
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
import { bytes } from "./_validate.ts";

/**
 * Dequantizes consecutive `block_q5_K` blocks to f32, bit for bit as llama.cpp's
 * `dequantize_row_q5_K`: `d1 = d·sc`, `m1 = dmin·mn`, each rounded to f32, then
 * `d1·q − m1` (two roundings, no fused multiply-add).
 *
 * @param blob Raw Q5_K blocks; its length must be a multiple of 176.
 * @returns 256 floats per block.
 * @throws {TypeError} If `blob` is not a Uint8Array.
 * @throws {RangeError} If `blob.length` is not a multiple of 176.
 * @example
 * ```ts
 * import { dequantizeQ5K, makeQ5KBlob } from "@kquant/webgpu";
 * const w = dequantizeQ5K(makeQ5KBlob(2, 512, { seed: 1 }));
 * console.log(w.length); // 1024
 * ```
 */
export function dequantizeQ5K(blob: Uint8Array): Float32Array {
  bytes("dequantize Q5_K", "blob", blob);
  if (blob.length % Q5K_BLOCK_BYTES !== 0) {
    throw new RangeError(
      `Cannot dequantize Q5_K: blob length must be a multiple of 176, current value is ${blob.length}`,
    );
  }
  const nb = blob.length / Q5K_BLOCK_BYTES;
  const y = new Float32Array(nb * Q5K_BLOCK_WEIGHTS);
  for (let i = 0; i < nb; i++) {
    dequantizeBlock(blob, i * Q5K_BLOCK_BYTES, y, i * Q5K_BLOCK_WEIGHTS);
  }
  return y;
}

/** @internal One block at byte `at` of `blob` into `y[out..out+256)`. */
export function dequantizeBlock(
  blob: Uint8Array,
  at: number,
  y: Float32Array,
  out: number,
): void {
  const fr = Math.fround;
  const d = f16ToF32Unchecked(blob[at + OFFSET_D] | (blob[at + OFFSET_D + 1] << 8));
  const dmin = f16ToF32Unchecked(
    blob[at + OFFSET_DMIN] | (blob[at + OFFSET_DMIN + 1] << 8),
  );
  const qh = at + OFFSET_QH;
  for (let g = 0; g < 4; g++) {
    const qs = at + OFFSET_QS + 32 * g;
    for (let h = 0; h < 2; h++) {
      const sb = 2 * g + h;
      const [sc, mn] = scaleMinK4(blob, at + OFFSET_SCALES, sb);
      const d1 = fr(d * sc);
      const m1 = fr(dmin * mn);
      const shift = 4 * h;
      for (let l = 0; l < 32; l++) {
        const q = ((blob[qs + l] >> shift) & 0xf) + (((blob[qh + l] >> sb) & 1) << 4);
        y[out + 64 * g + 32 * h + l] = fr(fr(d1 * q) - m1);
      }
    }
  }
}
