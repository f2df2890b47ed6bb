import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { compareNmse, referenceLinear } from "../conformance/compare.ts";
import { dispatch, DispatchCache, readBack, uploadStorage } from "./_gpu.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { splitReduceKernel, type TiledConfig, tiledKernel } from "./tiled_kernel.ts";
import { outerTileBytes } from "./_tiled_outer.ts";
import { uniformF32 } from "./_rng.ts";

const device = await testDevice();

/** Runs one tiled configuration (with its split-K reduction) and compares with the f64 reference. */
async function check(
  cfg: TiledConfig,
  m: number,
  n: number,
  k: number,
  splits: number,
  seed: number,
) {
  const blob = makeQ5KBlob(n, k, { seed, mode: seed % 2 ? "edge" : "random" });
  const x = uniformF32(m * k, seed + 1, -2, 2);
  const bias = uniformF32(n, seed + 2, -1, 1);
  const maxWorkgroupsPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  const w = uploadStorage(device, "test w", blob);
  const xb = uploadStorage(device, "test x", x);
  const bb = uploadStorage(device, "test bias", bias);
  const y = device.createBuffer({ size: m * n * 4, usage });
  const part = device.createBuffer({ size: splits * m * n * 4, usage });
  const cache = new DispatchCache(device, "test");
  const split = splits > 1;
  const spec = tiledKernel({ ...cfg, bias: cfg.bias && !split, split }, {
    m,
    n,
    k,
    row0: 0,
    rows: n,
    maxWorkgroupsPerDimension,
    splits,
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  if (split) {
    dispatch(device, pass, spec, cache, [w, xb, part]);
    const reduce = splitReduceKernel(m, n, splits, cfg.bias, maxWorkgroupsPerDimension);
    dispatch(device, pass, reduce, cache, cfg.bias ? [part, y, bb] : [part, y]);
  } else {
    dispatch(device, pass, spec, cache, cfg.bias ? [w, xb, y, bb] : [w, xb, y]);
  }
  pass.end();
  const got = new Float32Array(await readBack(device, y, m * n * 4, 0, encoder));
  const want = referenceLinear(x, dequantizeQ5K(blob), m, n, k);
  if (cfg.bias) want.forEach((v, i) => want[i] = v + bias[i % n]);
  const c = compareNmse(got, want, 1e-10);
  assert.ok(c.ok, `${spec.name} ${cfg.layout ?? "rows"} m=${m} n=${n} k=${k}: ${c.detail}`);
  for (const b of [w, xb, bb, y, part]) b.destroy();
  cache.destroy();
}

Deno.test("both tiled layouts match the f64 reference with partial tiles, bias and split-K", async () => {
  let seed = 300;
  for (const layout of ["rows", "outer"] as const) {
    for (const [tm, tn] of [[128, 128], [64, 128], [128, 64]] as const) {
      if (
        layout === "outer" && outerTileBytes(tm, tn) > device.limits.maxComputeWorkgroupStorageSize
      ) {
        continue;
      }
      const cfg = { tm, tn, padded: true, bias: false, split: false, layout };
      // M and N short of whole tiles; K = 768: three blocks, 24 K-steps.
      await check(cfg, 130, 200, 768, 1, seed++);
      await check({ ...cfg, bias: true }, 70, 136, 768, 1, seed++);
      await check({ ...cfg, bias: true }, 70, 136, 768, 3, seed++);
      await check({ ...cfg, prefetch: false }, 9, 70, 512, 2, seed++);
    }
  }
});

Deno.test("the K-major layout needs 32 KiB of workgroup memory for 128×128 tiles", () => {
  assert.equal(outerTileBytes(128, 128), 32768);
  assert.equal(outerTileBytes(64, 128), 24576);
  const wgsl = tiledKernel(
    { tm: 64, tn: 64, padded: true, bias: false, split: false, layout: "outer" },
    { m: 64, n: 64, k: 256, row0: 0, rows: 64, maxWorkgroupsPerDimension: 65535, splits: 1 },
  ).wgsl;
  assert.match(wgsl, /var<workgroup> xs: array<array<vec4<f32>, 16>, BK>/);
  assert.throws(
    () =>
      tiledKernel(
        { tm: 32, tn: 128, padded: true, bias: false, split: false, layout: "outer" },
        { m: 32, n: 128, k: 256, row0: 0, rows: 128, maxWorkgroupsPerDimension: 65535, splits: 1 },
      ),
    /K-major tile 32x128/,
  );
});
