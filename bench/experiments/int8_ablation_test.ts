import assert from "node:assert/strict";
import { testDevice } from "../../conformance/test_device.ts";
import { INT8_CUTS, int8AblationCandidates } from "./int8_ablation.ts";

const device = await testDevice();

Deno.test("every int8 ablation cut changes the lane-per-row kernel and still compiles", async () => {
  for (const m of [16, 64]) {
    const list = int8AblationCandidates(m, 4096, 14336, 65535);
    assert.equal(list.length, INT8_CUTS.length + 3);
    const base = list[0].specs[0].wgsl;
    const seen = new Set<string>();
    for (const c of list) {
      const cut = !c.label.startsWith("library");
      assert.equal(c.specs[0].wgsl !== base, cut, `m=${m} ${c.label}`);
      if (cut) {
        assert.ok(!seen.has(c.specs[0].wgsl), `m=${m} ${c.label} repeats another cut`);
        seen.add(c.specs[0].wgsl);
      }
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code: c.specs[0].wgsl });
      device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      assert.equal((await device.popErrorScope())?.message ?? null, null, `m=${m} ${c.label}`);
    }
  }
});
