/**
 * The mat-vec kernel's compile-time choices and how they are picked per
 * batch size and device (measured on an H200; see README "What made it fast").
 *
 * @module
 */

import { envVar } from "./_env.ts";

/** Compile-time choices of the mat-vec kernel. */
export interface MatvecConfig {
  /** Output rows per lane group (R). */
  rows: number;
  /** Lanes per super-block: 8 (each 32 weights, vec4 loads) or 16 (each 16, vec2 loads). */
  lanesPerBlock: 8 | 16;
  /** Super-blocks a lane group works on at once (S, a power of two ≤ 256/lanesPerBlock); the group has lanesPerBlock·S lanes. */
  slots: number;
  /**
   * Where a lane group's S slots sit: `"adjacent"` lanes (a subgroup spans
   * several super-blocks of one row set) or `"strided"` across the workgroup
   * (a subgroup spans several row sets on the same super-block, so its lanes
   * load the same activations and the loads are broadcasts).
   */
  slotLayout: "adjacent" | "strided";
  /**
   * How 5-bit quants become floats: `"shift"` moves each byte down before the
   * 2²³ mantissa trick; `"mask"` keeps byte k in place (worth 256ᵏ) and scales
   * the activation by 2⁻⁸ᵏ instead, which is exact and saves the shifts;
   * `"unit"` (factored combine only) places q in the top mantissa bits of 1.0,
   * making 1 + q/32 without a subtraction, and recovers Σq·x as
   * 32·(Σ(1 + q/32)·x − Σx) with the Σx the min term needs anyway.
   */
  decode: "shift" | "mask" | "unit";
  /**
   * How the scales meet the sums: `"factored"` keeps d·sc·Σq·x − dmin·m·Σx per
   * column (fewest operations for one column); `"affine"` turns each weight
   * into d·sc·q − dmin·m once and then does one FMA per column, the better
   * trade for several columns. `"int8"` reads activations quantized to 8
   * bits per 32 (see quantize_x_kernel.ts) and multiplies with
   * `dot4I8Packed`, four weights per instruction (8 lanes per block only).
   */
  combine: "factored" | "affine" | "int8";
  /**
   * How the int8 combine makes each int32 sum of packed products a float:
   * `"convert"` (default) after the sum; `"biased"` starts the sum at the bits
   * of 1.5·2²³, so a bit-cast and one subtraction give it exactly and the
   * start folds into the first product's accumulate (|Σ| < 2²²). Never with
   * three planes.
   */
  int8Sum?: "convert" | "biased";
  /**
   * int8 combine only: 3 when the activations come as three digit planes of
   * 24 bits per 32 (quantize_x_kernel.ts), each weight word meeting all three
   * (absent: one plane, 8 bits).
   */
  planes?: 3;
  /** Super-blocks each lane loads before computing (U), to keep more loads in flight. */
  unroll: 1 | 2 | 4;
  /** Activation columns per pass (C), 1..8. */
  cols: number;
  /** How the lanes of a group combine their sums. */
  reduce: "subgroup" | "workgroup";
  /** Lanes the subgroup butterfly spans (the device's smallest subgroup); groups wider than this finish in workgroup memory. */
  subgroupWidth: number;
  /** Add a bias vector. */
  bias: boolean;
}

/** Threads per workgroup. */
export const MATVEC_WORKGROUP = 256;
/** Most activation columns one pass handles. */
export const MATVEC_MAX_COLS = 8;

/**
 * Picks the mat-vec configuration for a batch size on a device: more rows per
 * lane group as M grows (activation loads are shared across rows), 32-lane
 * groups where subgroups are at least that wide.
 *
 * @param m Batch size.
 * @param subgroupMinSize The device's smallest subgroup size, or 0 for no subgroups.
 * @param forceWorkgroup Use the workgroup-memory reduction even with subgroups.
 * @param int8 Activations come quantized to 8 bits (the opt-in int8 path).
 * @param planes With int8, 3 for activations of 24 bits in three digit planes
 *   (the int8 layout otherwise; measured in its emulation,
 *   `bench/experiments/wide_int.ts`).
 */
export function matvecConfigFor(
  m: number,
  k: number,
  subgroupMinSize: number,
  forceWorkgroup: boolean,
  bias: boolean,
  int8 = false,
  planes: 1 | 3 = 1,
): MatvecConfig {
  const cols = Math.min(m, MATVEC_MAX_COLS);
  // WebGPU's subgroups have 4 lanes or more: butterflies span the device's
  // smallest and workgroup memory joins what one subgroup does not span.
  const useSubgroups = !forceWorkgroup && subgroupMinSize >= 4;
  const nb = k / 256;
  // Measured on an H200 (bench/results, README "What made it fast"), GPU kept
  // busy: M = 1 keeps 8 lanes per block, 4 adjacent blocks per lane group, 2
  // rows and the factored min term; several columns gain from turning each
  // weight into d·sc·q − dmin·m once (affine), slots strided across the
  // workgroup and the shift-free decode; 16 lanes per block from 3 columns.
  const one = cols === 1;
  let lanesPerBlock: 8 | 16 = cols <= 2 ? 8 : 16;
  let rows = 2;
  let unroll: 1 | 2 | 4 = 1;
  let slots = Math.min(cols <= 4 ? 4 : 2, Math.max(1, nb));
  // M = 1 of a long row (≥ 32 blocks): 8 blocks a lane group (H200,
  // `KQUANT_MATVEC=2,8`, one run: 4096×14336 35.5 → 32.9 µs per pass, 29.7 →
  // 27.8 in a shared pass; 14336×4096, 16 blocks, 32.7 → 35.0, so not there).
  if (one && nb >= 32) slots = 8;
  let slotLayout: MatvecConfig["slotLayout"] = one ? "adjacent" : "strided";
  let decode: MatvecConfig["decode"] = one ? "shift" : "mask";
  let combine: MatvecConfig["combine"] = one ? "factored" : "affine";
  let int8Sum: MatvecConfig["int8Sum"] = "convert";
  if (int8) {
    // Measured on an H200: 8 lanes per block, adjacent slots, 4 blocks per
    // lane group; one row for M = 1, two above. M = 1 of a long row (≥ 32
    // blocks) loads two blocks a lane ahead (4096×14336: 25.7 µs against
    // 26.9 for the 8 slots before, H200; 29.4 against 31.6, H100;
    // bench/experiments/README.md "Tried and not kept" has the other settings).
    combine = "int8";
    lanesPerBlock = 8;
    slotLayout = "adjacent";
    rows = one ? 1 : 2;
    slots = Math.min(4, Math.max(1, nb));
    if (one && nb >= 32) unroll = 2;
    // Rows of 16 blocks (K = 4096): 4 ahead, the whole row in one step of the
    // 4 slots (H200, `KQUANT_MATVEC=1,4,8,4`, four rounds in two runs:
    // 14336×4096 25.3–25.5 → 24.9–25.0 µs per pass, 18.1 → 17.3–17.4 in a
    // shared pass; 4096×4096 8.6 → 8.2 shared; 4096×14336 keeps 2: 26.8–26.9
    // against 25.6–25.7).
    if (one && nb === 16) unroll = 4;
    // Biased sums from 2 columns (H200, two runs: M = 8 53.0 → 51.3 µs for
    // 14336×4096 and 57.2 → 49.4 for 4096×14336, M = 2 and 4 within 2%
    // better; at M = 1 25.7 → 27.3 µs for 4096×14336, so not there).
    int8Sum = one ? "convert" : "biased";
  }
  if (int8 && planes === 3) {
    // Three planes load three activation words per weight word, so sharing
    // them across more rows pays more than for int8: 2 rows at M = 1, and
    // on long rows (≥ 32 blocks) 8 blocks a lane group and 4 rows above
    // M = 1; no loads ahead. H200, `bench/experiments/wide_configs.ts --shared
    // 1 2 3` (the mat-vec alone, 8 a pass; 14336×4096 / 4096×14336 /
    // 4096×4096, µs): M = 1 19.1 / 19.0 / 8.8 against the int8 layout's 21.5
    // / 24.8 / 8.7; M = 2 25.4 / 25.8 / 11.1 against 25.4 / 31.3 / 11.1;
    // M = 3 32.9 / 30.0 / 13.4 against 32.9 / 40.0 / 13.4 (per pass alike).
    rows = nb >= 32 && !one ? 4 : 2;
    slots = Math.min(nb >= 32 ? 8 : 4, Math.max(1, nb));
    unroll = 1;
  }
  // "R,S,T,U[,adjacent|strided[,shift|mask[,factored|affine[,convert|biased]]]]"
  // (rows, slots, lanes per block, unroll, slot layout, decode, combine, int8
  // sum) for tuning experiments.
  const words = envVar("KQUANT_MATVEC")?.split(",") ?? [];
  const tuned = words.map(Number);
  if (tuned[2] === 8 || tuned[2] === 16) lanesPerBlock = tuned[2];
  if (tuned[0] >= 1 && tuned[0] <= 8) rows = tuned[0];
  if ([1, 2, 4, 8, 16, 32].includes(tuned[1])) slots = tuned[1];
  if (tuned[3] === 1 || tuned[3] === 2 || tuned[3] === 4) unroll = tuned[3];
  if (words[4] === "adjacent" || words[4] === "strided") slotLayout = words[4];
  if (words[5] === "shift" || words[5] === "mask" || words[5] === "unit") decode = words[5];
  if (!int8 && (words[6] === "factored" || words[6] === "affine")) combine = words[6];
  if (int8 && (words[7] === "convert" || words[7] === "biased")) int8Sum = words[7];
  // Three planes join their sums without the bias (_matvec_bodies.ts int8Body).
  if (planes === 3) int8Sum = "convert";
  if (decode === "unit" && combine !== "factored") decode = "shift";
  // A power of two (lane groups must tile the workgroup), at most the row's blocks.
  slots = 2 ** Math.floor(Math.log2(Math.min(slots, 256 / lanesPerBlock)));
  if (int8 || (useSubgroups && lanesPerBlock > subgroupMinSize)) lanesPerBlock = 8;
  return {
    rows,
    lanesPerBlock,
    slots,
    slotLayout,
    decode,
    combine,
    ...(int8 ? { int8Sum } : {}),
    ...(int8 && planes === 3 ? { planes } : {}),
    unroll,
    cols,
    reduce: useSubgroups ? "subgroup" : "workgroup",
    subgroupWidth: useSubgroups ? Math.min(subgroupMinSize, 64) : 1,
    bias,
  };
}
