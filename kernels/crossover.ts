/**
 * Where the dispatcher switches from the mat-vec kernel to the tiled one.
 *
 * @module
 */

import { envVar } from "./_env.ts";

/** The batch size up to which `"auto"` uses mat-vec, with where that number came from. */
export interface Crossover {
  /** `"auto"` runs mat-vec for M up to this, tiled above. */
  maxMatvecM: number;
  /** Where the number came from (measured device class, default, or KQUANT_CROSSOVER). */
  source: string;
}

/** PCI vendor id of NVIDIA, as adapters report it (decimal or hex, or by name). */
const NVIDIA = /^(0x)?10de$|^4318$|nvidia/i;

/**
 * The crossover for a device class. Measured classes: NVIDIA (an H200 over
 * Vulkan, subgroups of 32; bench/results/h200.json, `--variant all`): with
 * the rectangular small-M tiles, tiled overtook mat-vec at M = 32 for
 * 14336×4096 and 4096×14336 (mat-vec 187 and 173 µs against tiled 219 and
 * 222 µs at M = 16) and at M = 8 for 4096×4096, so mat-vec runs up to M = 16.
 * Other devices get llama.cpp's Vulkan default of 8, a conservative choice
 * because both kernels are correct at every M.
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
  const tuned = Number(envVar("KQUANT_CROSSOVER") ?? "");
  if (tuned >= 1) return { maxMatvecM: tuned, source: "KQUANT_CROSSOVER" };
  if (info && (NVIDIA.test(info.vendor) || NVIDIA.test(info.description))) {
    return {
      maxMatvecM: 16,
      source: "measured for NVIDIA (H200, Vulkan; bench/results/h200.json)",
    };
  }
  return { maxMatvecM: 8, source: "default (llama.cpp Vulkan uses mat-vec up to M = 8)" };
}
