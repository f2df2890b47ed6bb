import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { wideConfigCandidates, wideVariations } from "./wide_configs.ts";
import { assertCutsCompile } from "./_ablation_check.ts";

const device = await testDevice();

fullTest("every 24-bit mat-vec variation differs from the library's and compiles", async () => {
  for (const m of [1, 3]) {
    // The library's configuration is one of the variations, so it appears only first and last.
    const list = wideConfigCandidates(m, 4096, 14336, 32, 65535);
    assert.equal(list.length, wideVariations(m).length + 1, `m=${m}`);
    assert.ok(list.every((c) => c.specs[0].key.endsWith(":planes3")), `m=${m}`);
    await assertCutsCompile(device, list, `m=${m}`);
  }
  // Rows of 16 blocks skip nothing; rows of 4 blocks skip the 8 slots.
  assert.equal(wideConfigCandidates(1, 4096, 1024, 32, 65535).length, 13);
});
