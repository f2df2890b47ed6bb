/**
 * Where the dispatcher switches from the mat-vec kernel to the tiled one.
 *
 * @module
 */

/** The batch size up to which `"auto"` uses mat-vec, with where that number came from. */
export interface Crossover {
  maxMatvecM: number;
  source: string;
}

/**
 * The crossover for a device. A conservative default (llama.cpp's Vulkan
 * backend switches at 8) until a measurement for the device class exists.
 *
 * @param info The adapter's info (vendor, architecture).
 * @returns The crossover and its source.
 */
export function crossoverFor(info?: GPUAdapterInfo): Crossover {
  void info;
  return { maxMatvecM: 8, source: "default (llama.cpp Vulkan uses mat-vec up to M = 8)" };
}
