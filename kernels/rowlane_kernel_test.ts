import { fullTest, testDevice } from "../conformance/test_device.ts";
import { LINEAR_INT8_REF_NMSE, LINEAR_REF_NMSE } from "../conformance/check.ts";
import { type RowLaneConfig, rowLaneKernel } from "./rowlane_kernel.ts";
import { hasPackedDot } from "./linear.ts";
import { assertTiledSpec } from "../conformance/tiled_grid_run.ts";
import type { TiledShape } from "./tiled_kernel.ts";

const device = await testDevice();

/** Runs one lane-per-row configuration (and its split-K reduction) against the f64 reference. */
function check(cfg: RowLaneConfig, m: number, n: number, k: number, splits: number, seed: number) {
  const split = splits > 1;
  const make = (shape: TiledShape) =>
    rowLaneKernel({ ...cfg, bias: cfg.bias && !split, split }, shape);
  const run = { m, n, k, splits, seed, bias: cfg.bias, int8: cfg.int8 };
  return assertTiledSpec(device, run, make, cfg.int8 ? LINEAR_INT8_REF_NMSE : LINEAR_REF_NMSE);
}

/** An f32 lane-per-row config, whole K (no split). */
const f32 = (mc: number, r: 1 | 2, wg: 64 | 128 | 256, pairs: boolean, bias = true) =>
  ({ mc, r, wg, pairs, bias, split: false }) satisfies RowLaneConfig;
/** An int8 lane-per-row config, one row a lane, whole K. */
const int8 = (mc: number, wg: 64 | 128, bias: boolean) =>
  ({ mc, r: 1, wg, bias, split: false, int8: true }) satisfies RowLaneConfig;

Deno.test("the lane-per-row kernel matches the f64 reference with column groups of any width", async () => {
  let seed = 540;
  const forms: RowLaneConfig[] = [
    f32(1, 1, 128, true),
    f32(3, 1, 128, true),
    f32(5, 2, 128, true),
    f32(7, 2, 128, true),
    // Wider groups of exactly M, and M = 40 as two groups of 20.
    f32(12, 2, 256, false),
    f32(20, 2, 256, false),
  ];
  if (hasPackedDot()) forms.push(int8(24, 128, true), int8(50, 128, false));
  for (const cfg of forms) {
    // M of exactly one group, and of two with a ragged second; K whole and in 3 slices.
    await check(cfg, cfg.mc, 150, 768, 1, seed++);
    await check(cfg, cfg.mc + 2, 70, 768, 3, seed++);
  }
});

// More forms, on partial groups and K-slices: the full suite (KQUANT_TEST_FULL=1).
fullTest(
  "the lane-per-row kernel matches the f64 reference on partial row and column groups, whole and split",
  async () => {
    let seed = 500;
    const forms: RowLaneConfig[] = [
      f32(4, 2, 64, true),
      f32(8, 1, 128, true, false),
      f32(16, 2, 64, false),
    ];
    if (hasPackedDot()) forms.push(int8(16, 64, true), int8(32, 64, false));
    for (const cfg of forms) {
      // Rows short of a workgroup's (clamped and skipped); M short of and
      // past one column group; K of 3 blocks, whole and in 3 slices.
      await check(cfg, cfg.mc - 1, 150, 768, 1, seed++);
      await check(cfg, cfg.mc + 3, 70, 768, 3, seed++);
    }
  },
);
