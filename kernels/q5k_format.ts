/**
 * The GGUF Q5_K block layout (GGML type id 13), shared by the codec and the
 * WGSL kernels. See `block_q5_K` in llama.cpp's ggml-common.h.
 *
 * @module
 */

/** Bytes in one `block_q5_K`: f16 d, f16 dmin, 12 scale bytes, 32 qh, 128 qs. */
export const Q5K_BLOCK_BYTES = 176;
/** Weights in one `block_q5_K` super-block. */
export const Q5K_BLOCK_WEIGHTS = 256;
/** GGML's type id for Q5_K, as written in GGUF files. */
export const Q5K_GGML_TYPE = 13;

/** @internal Byte offsets of the block's fields. */
export const OFFSET_D = 0;
/** @internal */
export const OFFSET_DMIN = 2;
/** @internal */
export const OFFSET_SCALES = 4;
/** @internal */
export const OFFSET_QH = 16;
/** @internal */
export const OFFSET_QS = 48;

/**
 * @internal Port of llama.cpp's `get_scale_min_k4`: the 6-bit scale and min of
 * sub-block `j` (0..7) from the 12 packed bytes at `scales[at..at+12)`.
 */
export function scaleMinK4(
  scales: Uint8Array,
  at: number,
  j: number,
): [number, number] {
  if (j < 4) {
    return [scales[at + j] & 63, scales[at + j + 4] & 63];
  }
  const sc = (scales[at + j + 4] & 0xf) | ((scales[at + j - 4] >> 6) << 4);
  const mn = (scales[at + j + 4] >> 4) | ((scales[at + j] >> 6) << 4);
  return [sc, mn];
}
