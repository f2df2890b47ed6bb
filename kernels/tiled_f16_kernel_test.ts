import { testDevice } from "../conformance/test_device.ts";
import { LINEAR_F16_REF_NMSE } from "../conformance/check.ts";
import { type TiledF16Config, tiledF16Kernel } from "./tiled_f16_kernel.ts";
import type { TiledShape } from "./tiled_kernel.ts";
import { assertTiledSpec } from "../conformance/tiled_grid_run.ts";

const device = await testDevice();
const f16 = device.features.has("shader-f16");

function check(cfg: TiledF16Config, m: number, n: number, k: number, splits: number, seed: number) {
  const split = splits > 1;
  const make = (shape: TiledShape) =>
    tiledF16Kernel({ ...cfg, bias: cfg.bias && !split, split }, shape);
  // Even seeds: random blocks (the edge blocks' scales leave f16's range).
  const run = { m, n, k, splits, seed: 2 * seed, bias: cfg.bias };
  return assertTiledSpec(device, run, make, LINEAR_F16_REF_NMSE, ` flush ${cfg.flush}`);
}

Deno.test({
  name:
    "the f16 tiled kernel is within 1e-6 of the f64 reference with partial tiles, bias and split-K",
  ignore: !f16,
  async fn() {
    let seed = 700;
    for (const flush of ["f32", "f16"] as const) {
      for (const [tm, tn] of [[128, 128], [64, 128], [16, 64]] as const) {
        const cfg = { tm, tn, padded: true, bias: false, split: false, flush };
        // M and N short of whole tiles; K = 768: three blocks, 24 K-steps.
        await check(cfg, 130, 200, 768, 1, seed++);
        await check({ ...cfg, bias: true }, 70, 136, 768, 1, seed++);
        await check({ ...cfg, bias: true }, 70, 136, 768, 3, seed++);
        await check({ ...cfg, prefetch: false, padded: false }, 9, 70, 512, 2, seed++);
      }
    }
  },
});
