import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import { matvecConfigFor } from "../../kernels/matvec_config.ts";
import { mutate } from "./matvec_breakdown.ts";

const device = await testDevice();

fullTest("every breakdown mutation changes the mat-vec WGSL and still compiles", async () => {
  for (const m of [1, 2, 8]) {
    const spec = matvecKernel(matvecConfigFor(m, 1024, 8, false, false), {
      m,
      n: 64,
      k: 1024,
      row0: 0,
      rows: 64,
      maxWorkgroupsPerDimension: 65535,
    });
    for (const mutation of ["no-unpack", "no-x-loads", "both"] as const) {
      const changed = mutate(spec, mutation);
      assert.notEqual(changed.wgsl, spec.wgsl, `m=${m} ${mutation}`);
      if (mutation !== "no-x-loads") {
        assert.match(changed.wgsl, /= cheap_unpack\(|fma\(cheap_unpack\(/);
      }
      if (mutation !== "no-unpack") assert.doesNotMatch(changed.wgsl, /x\[xb/);
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code: changed.wgsl });
      device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      const error = await device.popErrorScope();
      assert.equal(error, null, `m=${m} ${mutation}: ${error?.message}`);
    }
  }
});
