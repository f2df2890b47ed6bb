import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { WIDE_CUTS, wideAblationCandidates } from "./wide_ablation.ts";
import { assertCutsCompile } from "./_ablation_check.ts";

const device = await testDevice();

fullTest(
  "every 24-bit mat-vec cut changes the kernel where it should and still compiles",
  async () => {
    for (const m of [1, 2, 4]) {
      const list = wideAblationCandidates(m, 4096, 14336, 32, 65535);
      assert.equal(list.length, WIDE_CUTS.length + 4);
      const base = list[0].specs[0].wgsl;
      // Each cut leaves none of what it removes.
      const lower = list[1].specs[0].wgsl;
      assert.equal((base.match(/dot4I8Packed/g) ?? []).length % 3, 0, `m=${m}`);
      assert.equal(
        (lower.match(/dot4I8Packed/g) ?? []).length * 3,
        (base.match(/dot4I8Packed/g) ?? []).length,
        `m=${m}: the top plane's products stay`,
      );
      assert.doesNotMatch(list[2].specs[0].wgsl, /dot4I8Packed/, `m=${m}`);
      assert.doesNotMatch(list[3].specs[0].wgsl, /let x[lu]_[12] = x\[/, `m=${m}`);
      await assertCutsCompile(device, list.filter((c) => c.label !== "bare read"), `m=${m}`);
      // The bare read, bound as the mat-vec is, compiles too.
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code: list.at(-2)!.specs[0].wgsl });
      device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      assert.equal((await device.popErrorScope())?.message ?? null, null, `m=${m} bare read`);
    }
  },
);
