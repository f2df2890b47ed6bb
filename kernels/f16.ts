/**
 * IEEE half-precision conversion that matches ggml's `GGML_FP16_TO_FP32` and
 * `GGML_FP32_TO_FP16` bit for bit (round to nearest even, subnormals, ±Inf, NaN).
 *
 * @module
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function bitsToF32(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

function f32ToBits(value: number): number {
  f32[0] = value;
  return u32[0];
}

/**
 * Converts the 16 bits of an IEEE half to the f32 value it encodes (exact).
 *
 * @param bits The half's bits, 0..65535.
 * @returns The value as a JavaScript number (always representable in f32).
 * @throws {RangeError} If `bits` is not an integer in 0..65535.
 * @example
 * ```ts
 * import { f16BitsToF32 } from "@kquant/webgpu";
 * f16BitsToF32(0x3c00); // 1
 * ```
 */
export function f16BitsToF32(bits: number): number {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffff) {
    throw new RangeError(
      `Cannot convert f16: bits must be an integer in 0..65535, current value is ${bits}`,
    );
  }
  return f16ToF32Unchecked(bits);
}

/** @internal Hot-path conversion without argument checks. */
export function f16ToF32Unchecked(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const man = bits & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man === 0 ? sign * Infinity : NaN;
  return sign * (1024 + man) * 2 ** (exp - 25);
}

/**
 * Rounds a number to the nearest IEEE half and returns its 16 bits, the way
 * ggml's portable `fp32_to_fp16` does (the value is first rounded to f32).
 *
 * @param value Any number; NaN gives a quiet NaN (0x7e00 with the sign).
 * @returns The half's bits, 0..65535.
 * @throws {TypeError} If `value` is not a number.
 * @example
 * ```ts
 * import { f32ToF16Bits } from "@kquant/webgpu";
 * f32ToF16Bits(1); // 0x3c00
 * ```
 */
export function f32ToF16Bits(value: number): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot convert to f16: value must be a number, current value is ${String(value)}`,
    );
  }
  return f32ToF16Unchecked(value);
}

/**
 * @internal Port of ggml's `fp32_to_fp16` (from Maratyszcza's FP16 library, as
 * used in llama.cpp's ggml-impl.h): scale into the half range so the FPU does
 * the round-to-nearest-even, then pick the bits.
 */
export function f32ToF16Unchecked(value: number): number {
  const fr = Math.fround;
  const w = f32ToBits(value);
  let base = fr(fr(Math.abs(fr(value)) * 2 ** 112) * 2 ** -110);
  const shl1w = (w << 1) >>> 0;
  const sign = w & 0x80000000;
  let bias = (shl1w & 0xff000000) >>> 0;
  if (bias < 0x71000000) bias = 0x71000000;
  base = fr(bitsToF32(((bias >>> 1) + 0x07800000) >>> 0) + base);
  const bits = f32ToBits(base);
  const expBits = (bits >>> 13) & 0x7c00;
  const mantissaBits = bits & 0x0fff;
  const nonsign = expBits + mantissaBits;
  return ((sign >>> 16) | (shl1w > 0xff000000 ? 0x7e00 : nonsign)) & 0xffff;
}
