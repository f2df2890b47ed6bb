import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { LINEAR_REF_NMSE } from "../../conformance/check.ts";
import { assertTiledConfig } from "../../conformance/tiled_grid_run.ts";
import { type WsConfig, wsThreads, wsTiledKernel } from "./_tiled_ws.ts";

const device = await testDevice();

/** Runs one warp-specialized configuration (with its split-K reduction) against the f64 reference. */
function check(cfg: WsConfig, m: number, n: number, k: number, splits: number, seed: number) {
  const label = " warp-specialized";
  return assertTiledConfig(
    device,
    wsTiledKernel,
    cfg,
    [m, n, k, splits, seed],
    LINEAR_REF_NMSE,
    label,
  );
}

fullTest(
  "the warp-specialized K-major tiled kernel (64 or 128 producer threads, two stages) matches the f64 reference",
  async () => {
    if (device.limits.maxComputeInvocationsPerWorkgroup < wsThreads(128)) return;
    let seed = 600;
    const tile = {
      tm: 128,
      tn: 128,
      padded: true,
      split: false,
      layout: "outer",
      xT: true,
      prefetch: false,
    } as const;
    for (const [bias, producers] of [[true, 64], [false, 64], [true, 128], [false, 128]] as const) {
      const cfg = { ...tile, bias, producers };
      // Partial tiles, K of 3 blocks (48 steps of 16), split-K with slices of 1 block.
      await check(cfg, 130, 200, 768, 1, seed++);
      await check(cfg, 70, 136, 768, 3, seed++);
      await check({ ...cfg, vec4Out: true }, 9, 136, 512, 1, seed++);
      await check(cfg, 9, 70, 512, 2, seed++);
    }
    const shape = {
      m: 64,
      n: 128,
      k: 256,
      row0: 0,
      rows: 128,
      maxWorkgroupsPerDimension: 65535,
      splits: 1,
    };
    assert.throws(
      () => wsTiledKernel({ ...tile, tm: 64, bias: false }, shape),
      /warp-specialized tile 64x128/,
    );
  },
);
