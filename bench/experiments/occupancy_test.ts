import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { occupancyKernel } from "./occupancy.ts";

const device = await testDevice();

fullTest(
  "the occupancy probes declare the workgroup memory asked for, chain their FMAs and compile",
  async () => {
    for (const [bytes, live] of [[0, 6], [16384, 16], [32768, 128]]) {
      const spec = occupancyKernel(bytes, live, 64, 132);
      assert.equal(spec.wgsl.includes(`array<vec4<f32>, ${bytes / 16}>`), bytes > 0);
      assert.equal(spec.wgsl.match(/= fma\(/g)?.length, live);
      // Each FMA of an iteration multiplies by the one before it: one serial chain.
      assert.match(spec.wgsl, new RegExp(`c0 = fma\\(c0, c${live - 1}, b\\);`));
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code: spec.wgsl });
      device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      assert.equal((await device.popErrorScope())?.message ?? null, null);
    }
    assert.throws(() => occupancyKernel(100, 4, 64, 132), RangeError);
    assert.throws(() => occupancyKernel(0, 0, 64, 132), RangeError);
  },
);
