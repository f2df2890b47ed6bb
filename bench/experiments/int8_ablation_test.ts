import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { INT8_CUTS, int8AblationCandidates } from "./int8_ablation.ts";
import { assertCutsCompile } from "./_ablation_check.ts";

const device = await testDevice();

fullTest("every int8 ablation cut changes the lane-per-row kernel and still compiles", async () => {
  for (const m of [16, 64]) {
    const list = int8AblationCandidates(m, 4096, 14336, 65535);
    assert.equal(list.length, INT8_CUTS.length + 3);
    await assertCutsCompile(device, list, `m=${m}`);
  }
});
