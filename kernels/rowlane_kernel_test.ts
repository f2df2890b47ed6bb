import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { compareNmse, referenceLinear } from "../conformance/compare.ts";
import { dispatch, DispatchCache, readBack, uploadStorage } from "./_gpu.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { type RowLaneConfig, rowLaneKernel, stagedWeightBytes } from "./rowlane_kernel.ts";
import { splitReduceKernel } from "./tiled_kernel.ts";
import { LINEAR_INT8_REF_NMSE, LINEAR_REF_NMSE } from "../conformance/check.ts";
import { quantizedXBytes, quantizeXKernel } from "./quantize_x_kernel.ts";
import { hasPackedDot } from "./linear.ts";
import { uniformF32 } from "./_rng.ts";

const device = await testDevice();
const storage = device.limits.maxComputeWorkgroupStorageSize;

/** Runs one lane-per-row configuration (and its split-K reduction) against the f64 reference. */
async function check(
  cfg: RowLaneConfig,
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
  const sizes = quantizedXBytes(m, k);
  const xq = device.createBuffer({ size: sizes.q, usage: GPUBufferUsage.STORAGE });
  const xs = device.createBuffer({ size: sizes.scales, usage: GPUBufferUsage.STORAGE });
  const cache = new DispatchCache(device, "test");
  const split = splits > 1;
  const spec = rowLaneKernel({ ...cfg, bias: cfg.bias && !split, split }, {
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
  const activations = cfg.int8 ? [xq, xs] : [xb];
  if (cfg.int8) {
    dispatch(device, pass, quantizeXKernel(m, k, maxWorkgroupsPerDimension), cache, [xb, xq, xs]);
  }
  if (split) {
    dispatch(device, pass, spec, cache, [w, ...activations, part]);
    const reduce = splitReduceKernel(m, n, splits, cfg.bias, maxWorkgroupsPerDimension);
    dispatch(device, pass, reduce, cache, cfg.bias ? [part, y, bb] : [part, y]);
  } else {
    dispatch(device, pass, spec, cache, [w, ...activations, y, ...(cfg.bias ? [bb] : [])]);
  }
  pass.end();
  const got = new Float32Array(await readBack(device, y, m * n * 4, 0, encoder));
  const want = referenceLinear(x, dequantizeQ5K(blob), m, n, k);
  if (cfg.bias) want.forEach((v, i) => want[i] = v + bias[i % n]);
  const c = compareNmse(got, want, cfg.int8 ? LINEAR_INT8_REF_NMSE : LINEAR_REF_NMSE);
  assert.ok(c.ok, `${spec.name} m=${m} n=${n} k=${k} splits=${splits}: ${c.detail}`);
  for (const b of [w, xb, bb, y, part, xq, xs]) b.destroy();
  cache.destroy();
}

Deno.test("the lane-per-row kernel matches the f64 reference with its weights staged or not", async () => {
  let seed = 500;
  const forms: RowLaneConfig[] = [
    { mc: 4, r: 2, wg: 64, pairs: true, bias: true, split: false },
    { mc: 8, r: 1, wg: 128, pairs: true, bias: false, split: false },
    { mc: 16, r: 2, wg: 64, pairs: false, bias: true, split: false },
  ];
  if (hasPackedDot()) {
    forms.push(
      { mc: 16, r: 1, wg: 64, bias: true, split: false, int8: true },
      { mc: 32, r: 1, wg: 64, bias: false, split: false, int8: true },
    );
  }
  for (const form of forms) {
    for (const stagedWeights of [false, true]) {
      const cfg = { ...form, stagedWeights };
      const columns = form.mc * (form.int8 ? 320 : 1024);
      if (stagedWeights && columns + stagedWeightBytes(cfg) > storage) continue;
      // Rows short of a workgroup's (clamped and skipped); M short of and
      // past one column group; K of 3 blocks, whole and in 3 slices.
      await check(cfg, form.mc - 1, 150, 768, 1, seed++);
      await check(cfg, form.mc + 3, 70, 768, 3, seed++);
    }
  }
});
