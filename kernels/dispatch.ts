/**
 * Dispatch math shared by every kernel.
 *
 * @module
 */

/**
 * Folds a 1-D count of workgroups into an x·y grid that respects
 * `maxComputeWorkgroupsPerDimension`; kernels recover the index as
 * `wid.x + wid.y * groupsX` and guard against the padding.
 *
 * @param count Workgroups needed (≥ 0).
 * @param maxPerDimension The device limit (65535 by default in WebGPU).
 * @returns `[x, y]` with `x · y ≥ count`, both ≤ maxPerDimension.
 * @throws {RangeError} If the count cannot fit in a 2-D grid.
 * @example
 * ```ts
 * import { foldWorkgroups } from "@kquant/webgpu";
 * foldWorkgroups(100000); // [50000, 2]
 * ```
 */
export function foldWorkgroups(count: number, maxPerDimension = 65535): [number, number] {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(
      `Cannot fold workgroups: count must be a non-negative integer, current value is ${count}`,
    );
  }
  if (count <= maxPerDimension) return [Math.max(count, 1), 1];
  const y = Math.ceil(count / maxPerDimension);
  if (y > maxPerDimension) {
    throw new RangeError(
      `Cannot fold workgroups: count must be at most ${
        maxPerDimension ** 2
      }, current value is ${count}`,
    );
  }
  return [Math.ceil(count / y), y];
}

/** Integer division rounding up. */
export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/** The shape of one dispatch over a chunk of weight rows. */
export interface ChunkShape {
  m: number;
  n: number;
  k: number;
  /** First weight row of the bound chunk, and rows in it. */
  row0: number;
  rows: number;
}

/**
 * The uniform words the linear kernels share, in their structs' order:
 * m, n, k, k/256, row0, rows, groups_x, then each kernel's own `more`.
 */
export function chunkUniforms(shape: ChunkShape, groupsX: number, more: number[]): Uint32Array {
  const { m, n, k, row0, rows } = shape;
  return new Uint32Array([m, n, k, k / 256, row0, rows, groupsX, ...more]);
}
