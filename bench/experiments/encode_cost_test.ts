import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { cpuCost } from "./encode_cost.ts";

const device = await testDevice();

fullTest("cpuCost records the asked number of ops and reports per-op CPU time", async () => {
  let passes = 0;
  const cost = await cpuCost(device, 64, (encoder, ops) => {
    for (let i = 0; i < ops; i++) {
      encoder.beginComputePass().end();
      passes++;
    }
  });
  assert.equal(passes, 64);
  for (const [name, us] of Object.entries(cost)) {
    assert.ok(Number.isFinite(us) && us >= 0, `${name}: ${us}`);
  }
  assert.ok(cost.recordUs + cost.finishUs + cost.submitUs > 0);
});
