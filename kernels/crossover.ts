/**
 * Where the dispatcher switches from the mat-vec kernel to the lane-per-row
 * kernel and from that to the tiled one.
 *
 * @module
 */

import { envVar } from "./_env.ts";

/** Which kernel family `"auto"` runs at each batch size, with where the numbers came from. */
export interface Crossover {
  /** `"auto"` runs mat-vec for M up to this. */
  maxMatvecM: number;
  /**
   * Above `maxMatvecM` and up to this, the lane-per-row kernel; tiled above
   * (equal to `maxMatvecM`: no lane-per-row range).
   */
  maxRowLaneM: number;
  /** With `activations: "int8"`: mat-vec up to this. */
  maxInt8MatvecM: number;
  /**
   * With `activations: "int8"`: above `maxInt8MatvecM` and up to this, the
   * lane-per-row kernel; tiled above (equal to `maxInt8MatvecM`: no range).
   */
  maxInt8RowLaneM: number;
  /** Where the numbers came from (measured device class, default, or KQUANT_CROSSOVER). */
  source: string;
}

/** PCI vendor id of NVIDIA, as adapters report it (decimal or hex, or by name). */
const NVIDIA = /^(0x)?10de$|^4318$|nvidia/i;

/**
 * The crossover for a device class. Measured class: NVIDIA (an H200 over
 * Vulkan, subgroups of 32; bench/results/h200.json, `--variant all`). With
 * the branch-free scale decode of a0f4539, for 14336×4096, 4096×14336 and
 * 4096×4096 mat-vec took 55.3, 53.9, 22.8 µs at M = 3 against 58.4, 66.7,
 * 28.8 for lane-per-row, at M = 4 (mixed) 63.1, 61.1, 25.5 against 58.8,
 * 67.3, 29.1, and 101.7, 87.6, 34.9 at M = 8 against 72.3,
 * 81.3, 33.8: mat-vec up to M = 3, judged one pass per op as the bench
 * reports it (several ops in one pass favour lane-per-row from M = 2: 43.8
 * against 50.1 µs at M = 3 of 14336×4096). In the run that introduced the
 * lane-per-row kernel (25d4e14) it stayed ahead of tiled or within 1% up to
 * M = 64 (319.2, 319.5, 108.8 µs against 318.9, 350.5, 107.9) and fell
 * behind at M = 128 for 14336×4096 (597.5 against 498.4): lane-per-row up
 * to 64. With int8 activations (the H200 and H100 runs of the README
 * command at 8115e91) the int8 lane-per-row kernel is faster than the int8
 * mat-vec from M = 16 (not at 8: 63.5, 68.2 against 53.1, 56.1 µs, H200).
 * With its 64-column groups (the H200 run of the README command at 7c2845e)
 * it is faster than int8 tiled on all three shapes up to M = 256 (561.2,
 * 541.5, 177.2 µs against 605.0, 604.2, 234.0) and on two of them at 512
 * (1179.6 against 1136.9 for 14336×4096), so int8 runs mat-vec up to 8 and
 * lane-per-row up to 256. Other
 * devices get llama.cpp's Vulkan default (mat-vec up to M = 8, tiled above,
 * no lane-per-row range): a conservative choice, since every kernel is
 * correct at every M.
 *
 * `KQUANT_CROSSOVER=A[,B[,C[,D]]]` overrides the four numbers for experiments.
 *
 * @param info The adapter's info (vendor, architecture).
 * @returns The crossover and where it came from.
 * @example
 * ```ts
 * import { crossoverFor } from "@kquant/webgpu";
 * crossoverFor().maxMatvecM; // 8 for an unknown device
 * ```
 */
export function crossoverFor(info?: GPUAdapterInfo): Crossover {
  const tuned = (envVar("KQUANT_CROSSOVER") ?? "").split(",").map(Number);
  if (tuned[0] >= 1) {
    const rowLane = Math.max(tuned[0], tuned[1] >= 1 ? tuned[1] : tuned[0]);
    const int8 = tuned[2] >= 1 ? tuned[2] : tuned[0];
    return {
      maxMatvecM: tuned[0],
      maxRowLaneM: rowLane,
      maxInt8MatvecM: int8,
      maxInt8RowLaneM: Math.max(int8, tuned[3] >= 1 ? tuned[3] : int8),
      source: "KQUANT_CROSSOVER",
    };
  }
  if (info && (NVIDIA.test(info.vendor) || NVIDIA.test(info.description))) {
    return {
      maxMatvecM: 3,
      maxRowLaneM: 64,
      maxInt8MatvecM: 8,
      maxInt8RowLaneM: 256,
      source: "measured for NVIDIA (H200, Vulkan; bench/results/h200.json)",
    };
  }
  return {
    maxMatvecM: 8,
    maxRowLaneM: 8,
    maxInt8MatvecM: 8,
    maxInt8RowLaneM: 8,
    source: "default (llama.cpp Vulkan uses mat-vec up to M = 8)",
  };
}
