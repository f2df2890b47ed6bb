/**
 * Small batches above the mat-vec (M ≈ 8…64): the library's tiled kernel at
 * its tile and K-split against the lane-per-row kernel at several rows per
 * lane, workgroup sizes and K-splits, timed per pass over rotating weight
 * copies. Prints µs and TFLOP/s. A measuring aid for kernel work, not a
 * benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/small_batch.ts [M ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { exactSplits, splitsFor, tiledKernel, tileFor } from "../../kernels/tiled_kernel.ts";
import { ceilDiv } from "../../kernels/dispatch.ts";
import {
  type RowLaneConfig,
  rowLaneGroups,
  rowLaneKernel,
  rowLaneSplits,
} from "../../kernels/rowlane_kernel.ts";
import { intList } from "../../cli/args.ts";
import { type Candidate, splitCandidate, timeCandidates } from "./tiled_layouts.ts";

/** Lane-per-row shapes compared: rows per lane and lanes per workgroup. */
export const ROW_LANE_SHAPES: Pick<RowLaneConfig, "r" | "wg" | "pairs">[] = [
  { r: 2, wg: 64, pairs: true },
  { r: 2, wg: 128, pairs: true },
  { r: 2, wg: 256, pairs: false },
  { r: 2, wg: 256, pairs: true },
  { r: 4, wg: 256, pairs: false },
];

/** The column group for M: the smallest of 2, 4, 8, 16, 32 that holds it (32 above). */
export function columnsFor(m: number): RowLaneConfig["mc"] {
  return ([2, 4, 8, 16] as const).find((c) => m <= c) ?? 32;
}

/** The library's tiled candidate and the lane-per-row candidates (at their K-split, half and twice it) for one product. */
export function smallBatchCandidates(
  m: number,
  n: number,
  k: number,
  maxWorkgroupsPerDimension: number,
): Candidate[] {
  const nb = k / 256;
  const tile = tileFor(49152, m);
  const tiledSplits = splitsFor(ceilDiv(n, tile.tn) * ceilDiv(m, tile.tm), nb);
  const at = (splits: number) => ({ m, n, splits, maxWorkgroupsPerDimension });
  const shape = (splits: number) => ({
    m,
    n,
    k,
    row0: 0,
    rows: n,
    maxWorkgroupsPerDimension,
    splits,
  });
  const out: Candidate[] = [
    splitCandidate(
      `tiled ${tile.tm}x${tile.tn} split ${tiledSplits}`,
      tiledKernel({ ...tile, bias: false, split: tiledSplits > 1 }, shape(tiledSplits)),
      at(tiledSplits),
    ),
  ];
  for (const { r, wg, pairs } of ROW_LANE_SHAPES) {
    const mc = columnsFor(m);
    const base = rowLaneSplits({ mc, wg }, rowLaneGroups({ mc, r, wg }, m, n), nb);
    const scaled = [Math.ceil(base / 2), base, 2 * base];
    for (const splits of [...new Set(scaled.map((z) => exactSplits(nb, Math.min(nb, z))))]) {
      const cfg = { mc, r, wg, bias: false, split: splits > 1, pairs };
      out.push(
        splitCandidate(
          `rowlane mc${mc} r${r} wg${wg}${pairs ? " pairs" : ""} split ${splits}`,
          rowLaneKernel(cfg, shape(splits)),
          at(splits),
        ),
      );
    }
  }
  return out;
}

if (import.meta.main) {
  const device = await requestDevice();
  const ms = Deno.args.length ? intList("M", Deno.args.join(",")) : [8, 16, 32, 64];
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  await timeCandidates(device, ms, (m, n, k) => smallBatchCandidates(m, n, k, maxDim), log, [
    [14336, 4096],
    [4096, 14336],
    [4096, 4096],
  ]);
}
