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
  /** With `activations: "int8"` (which has no lane-per-row kernel): mat-vec up to this, tiled above. */
  maxInt8MatvecM: number;
  /** Where the numbers came from (measured device class, default, or KQUANT_CROSSOVER). */
  source: string;
}

/** PCI vendor id of NVIDIA, as adapters report it (decimal or hex, or by name). */
const NVIDIA = /^(0x)?10de$|^4318$|nvidia/i;

/**
 * The crossover for a device class. Measured class: NVIDIA (an H200 over
 * Vulkan, subgroups of 32; `bench/experiments/small_batch.ts` and
 * bench/results/h200.json, `--variant all`). The lane-per-row kernel beat
 * mat-vec from M = 3 for 14336×4096 and 4096×14336 (58.1 and 62.8 µs against
 * 67.1 and 70.7 at M = 3; mat-vec 48.8 and 52.9 at M = 2 against 54.0 and
 * 62.4), tied it at M = 3…4 for 4096×4096, and beat the tiled kernel up to
 * M = 32 on all three shapes (183.7, 186.2, 57.8 µs against 226.6, 226.4,
 * 67.5); at M = 64 the two were within 3%. With int8 activations tiled
 * overtook mat-vec at M = 32 (16 for 4096×14336), so int8 keeps mat-vec up
 * to 16. Other devices get llama.cpp's Vulkan default (mat-vec up to M = 8,
 * tiled above, no lane-per-row range): a conservative choice, since every
 * kernel is correct at every M.
 *
 * `KQUANT_CROSSOVER=A[,B[,C]]` overrides the three numbers for experiments.
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
    return {
      maxMatvecM: tuned[0],
      maxRowLaneM: rowLane,
      maxInt8MatvecM: tuned[2] >= 1 ? tuned[2] : tuned[0],
      source: "KQUANT_CROSSOVER",
    };
  }
  if (info && (NVIDIA.test(info.vendor) || NVIDIA.test(info.description))) {
    return {
      maxMatvecM: 2,
      maxRowLaneM: 32,
      maxInt8MatvecM: 16,
      source: "measured for NVIDIA (H200, Vulkan; bench/results/h200.json)",
    };
  }
  return {
    maxMatvecM: 8,
    maxRowLaneM: 8,
    maxInt8MatvecM: 8,
    source: "default (llama.cpp Vulkan uses mat-vec up to M = 8)",
  };
}
