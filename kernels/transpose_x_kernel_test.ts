import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { dispatch, DispatchCache, readBack, uploadStorage } from "./_gpu.ts";
import { transposedXBytes, transposeXKernel } from "./transpose_x_kernel.ts";
import { uniformF32 } from "./_rng.ts";

const device = await testDevice();

Deno.test("the activation transpose writes x as K rows of M padded to 4 with zeros", async () => {
  for (const [m, k] of [[1, 32], [5, 64], [33, 96], [130, 256], [512, 64]]) {
    const x = uniformF32(m * k, m + k, -2, 2);
    const bytes = transposedXBytes(m, k);
    const mp = Math.ceil(m / 4) * 4;
    assert.equal(bytes, k * mp * 4);
    const xb = uploadStorage(device, "test x", x);
    // Filled with NaN first, so padding the kernel did not write would show.
    const xt = uploadStorage(
      device,
      "test xt",
      new Float32Array(bytes / 4).fill(NaN),
      GPUBufferUsage.COPY_SRC,
    );
    const cache = new DispatchCache(device, "test");
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatch(device, pass, transposeXKernel(m, k, 7), cache, [xb, xt]);
    pass.end();
    const got = new Float32Array(await readBack(device, xt, bytes, 0, encoder));
    for (let kk = 0; kk < k; kk++) {
      for (let r = 0; r < mp; r++) {
        const want = r < m ? x[r * k + kk] : 0;
        if (got[kk * mp + r] !== want) {
          assert.fail(`m=${m} k=${k}: xt[${kk}][${r}] = ${got[kk * mp + r]}, want ${want}`);
        }
      }
    }
    xb.destroy();
    xt.destroy();
    cache.destroy();
  }
});
