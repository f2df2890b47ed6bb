import { f32ToF16Unchecked } from "./f16.ts";
import {
  OFFSET_D,
  OFFSET_DMIN,
  OFFSET_QH,
  OFFSET_QS,
  OFFSET_SCALES,
  Q5K_BLOCK_BYTES,
  Q5K_BLOCK_WEIGHTS,
} from "./q5k_format.ts";
import { quantizeQ5K } from "./quantize.ts";
import { mulberry32, uniformF32 } from "./_rng.ts";
import { blockMultiple, positiveInt, show } from "./_validate.ts";

/** How {@linkcode makeQ5KBlob} fills its blocks. */
export type Q5KBlobMode = "random" | "quantized" | "edge";

/** Options of {@linkcode makeQ5KBlob}. */
export interface MakeQ5KBlobOptions {
  /** 32-bit unsigned seed; the same seed gives the same bytes. Default 0. */
  seed?: number;
  /**
   * `random`: random bytes with d = dmin = f16(7e-4) (executorch's seed tests);
   * `quantized`: uniform[-1, 1) floats through {@linkcode quantizeQ5K}
   * (llama.cpp's test-backend-ops data); `edge`: blocks at the format's
   * extremes. Default `random`.
   */
  mode?: Q5KBlobMode;
}

const MODES: readonly Q5KBlobMode[] = ["random", "quantized", "edge"];
/** f16 bits of 7e-4, the fixed d/dmin of executorch's Q5_K tests. */
const SEED_PROJECT_SCALE = f32ToF16Unchecked(7e-4);
/** Number of distinct edge-case block kinds {@linkcode makeQ5KBlob} cycles through. */
export const EDGE_KINDS = 12;

/**
 * Makes a deterministic N×K Q5_K weight blob (N rows of K/256 blocks).
 *
 * @param rows Number of rows N, a positive integer.
 * @param k Weights per row, a positive multiple of 256.
 * @param options Seed and fill mode.
 * @returns `rows · k / 256 · 176` bytes.
 * @throws {TypeError} If a size is not a number, or options has the wrong types.
 * @throws {RangeError} If a size is not a positive integer, k is not a multiple of 256, the seed is not a 32-bit unsigned integer or the mode is unknown.
 * @example
 * ```ts
 * import { makeQ5KBlob } from "@kquant/webgpu";
 * const w = makeQ5KBlob(16, 256, { seed: 7, mode: "edge" });
 * console.log(w.length); // 2816
 * ```
 */
export function makeQ5KBlob(
  rows: number,
  k: number,
  options: MakeQ5KBlobOptions = {},
): Uint8Array {
  const action = "make Q5_K blob";
  positiveInt(action, "rows", rows);
  blockMultiple(action, "k", k);
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Cannot ${action}: options must be an object, current value is ${show(options)}`,
    );
  }
  const seed = options.seed ?? 0;
  if (typeof seed !== "number") {
    throw new TypeError(
      `Cannot ${action}: seed must be a number, current value is ${show(seed)}`,
    );
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(
      `Cannot ${action}: seed must be an integer in 0..4294967295, current value is ${seed}`,
    );
  }
  const mode = options.mode ?? "random";
  if (!MODES.includes(mode)) {
    throw new RangeError(
      `Cannot ${action}: mode must be one of ${MODES.join(", ")}, current value is ${show(mode)}`,
    );
  }
  const blocks = rows * (k / Q5K_BLOCK_WEIGHTS);
  if (mode === "quantized") {
    return quantizeQ5K(uniformF32(blocks * Q5K_BLOCK_WEIGHTS, seed));
  }
  const rand = mulberry32(seed);
  const out = new Uint8Array(blocks * Q5K_BLOCK_BYTES);
  for (let i = 0; i < out.length; i++) out[i] = (rand() * 256) | 0;
  for (let b = 0; b < blocks; b++) {
    const at = b * Q5K_BLOCK_BYTES;
    if (mode === "random") {
      setHalf(out, at + OFFSET_D, SEED_PROJECT_SCALE);
      setHalf(out, at + OFFSET_DMIN, SEED_PROJECT_SCALE);
    } else {
      edgeBlock(out, at, b % EDGE_KINDS, rand);
    }
  }
  return out;
}

function setHalf(out: Uint8Array, at: number, bits: number): void {
  out[at] = bits & 0xff;
  out[at + 1] = bits >> 8;
}

function fill(out: Uint8Array, from: number, to: number, value: number): void {
  out.fill(value, from, to);
}

/** A normal, finite f16 scale in about [1e-4, 1e-2). */
function moderateHalf(rand: () => number): number {
  return f32ToF16Unchecked(1e-4 * 100 ** rand());
}

/** Overwrites block `at` with edge case `kind`; d and dmin stay finite. */
function edgeBlock(
  out: Uint8Array,
  at: number,
  kind: number,
  rand: () => number,
): void {
  let d = moderateHalf(rand);
  let dmin = moderateHalf(rand);
  const payload = at + OFFSET_SCALES;
  const end = at + Q5K_BLOCK_BYTES;
  switch (kind) {
    case 0: // d = 0: every weight is −dmin·mn
      d = 0;
      break;
    case 1: // dmin = 0: no min term
      dmin = 0;
      break;
    case 2: // subnormal d and dmin
      d = 1 + ((rand() * 0x3fe) | 0);
      dmin = 1 + ((rand() * 0x3fe) | 0);
      break;
    case 3: // negative d and dmin
      d |= 0x8000;
      dmin |= 0x8000;
      break;
    case 4: // the largest finite d, and -0 dmin
      d = 0x7bff;
      dmin = 0x8000;
      break;
    case 5: // every payload bit set
      fill(out, payload, end, 0xff);
      break;
    case 6: // every payload bit clear
      fill(out, payload, end, 0);
      break;
    case 7: // all scales and mins 63
      fill(out, payload, at + OFFSET_QH, 0xff);
      break;
    case 8: // every 5th bit set
      fill(out, at + OFFSET_QH, at + OFFSET_QS, 0xff);
      break;
    case 9: // the largest finite dmin, negative largest d, all bits set
      d = 0xfbff;
      dmin = 0x7bff;
      fill(out, payload, end, 0xff);
      break;
    case 10: // the smallest subnormal d and dmin with maximal q
      d = 0x0001;
      dmin = 0x8001;
      fill(out, at + OFFSET_QH, end, 0xff);
      break;
    default: // moderate d/dmin with random payload (the common case)
      break;
  }
  setHalf(out, at + OFFSET_D, d);
  setHalf(out, at + OFFSET_DMIN, dmin);
}
