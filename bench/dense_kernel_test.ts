import assert from "node:assert/strict";
import { requestDevice } from "../kernels/device.ts";
import { denseMatvecKernel, denseTiledKernel } from "./dense_kernel.ts";
import { dispatch, DispatchCache, readBack, uploadStorage } from "../kernels/_gpu.ts";
import { f16BitsToF32 } from "../kernels/f16.ts";
import { mulberry32, uniformF32 } from "../kernels/_rng.ts";
import { compareNmse, referenceLinear } from "../conformance/compare.ts";

Deno.test("the dense f16 baselines compute x·Wᵀ (so their timings are of real work)", async () => {
  const device = await requestDevice();
  const [n, k] = [70, 512];
  const rand = mulberry32(1);
  const halves = Uint16Array.from({ length: n * k }, () => 0x3000 + Math.floor(rand() * 0x0c00));
  const wf = Float32Array.from(halves, (h) => f16BitsToF32(h));
  const w = uploadStorage(device, "dense w", halves);
  const pool = new DispatchCache(device, "dense test");
  for (const m of [1, 3, 9, 70]) {
    const x = uploadStorage(device, "x", uniformF32(m * k, m));
    const y = device.createBuffer({
      size: m * n * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    const shape = { m, n, k, maxWorkgroupsPerDimension: 65535 };
    for (const spec of [denseMatvecKernel(shape, false), denseTiledKernel(shape)]) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      dispatch(device, pass, spec, pool, [w, x, y]);
      pass.end();
      const got = new Float32Array(await readBack(device, y, m * n * 4, 0, enc));
      const c = compareNmse(got, referenceLinear(uniformF32(m * k, m), wf, m, n, k), 1e-10);
      assert.ok(c.ok, `${spec.name} m=${m}: ${c.detail}`);
    }
    x.destroy();
    y.destroy();
  }
  w.destroy();
  pool.destroy();
  device.destroy();
});
