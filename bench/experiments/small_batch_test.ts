import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { columnsFor, ROW_LANE_SHAPES, smallBatchCandidates } from "./small_batch.ts";

const device = await testDevice();

fullTest(
  "every small-batch candidate compiles, each lane-per-row shape at up to three K-splits",
  async () => {
    assert.deepEqual([1, 3, 8, 9, 32, 64].map(columnsFor), [2, 4, 8, 16, 32, 32]);
    for (const m of [3, 64]) {
      const list = smallBatchCandidates(m, 4096, 14336, 65535);
      assert.ok(list[0].label.startsWith("tiled "), list[0].label);
      for (const { r, wg } of ROW_LANE_SHAPES) {
        const mine = list.filter((c) => c.label.includes(` r${r} wg${wg}`));
        assert.ok(mine.length >= 1 && mine.length <= 2 * 3, `m=${m} r${r} wg${wg}`);
      }
      const seen = new Set<string>();
      for (const c of list) {
        assert.equal(c.specs.length, c.partBytes ? 2 : 1, c.label);
        if (seen.has(c.specs[0].key)) continue;
        seen.add(c.specs[0].key);
        device.pushErrorScope("validation");
        const module = device.createShaderModule({ code: c.specs[0].wgsl });
        device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
        assert.equal((await device.popErrorScope())?.message ?? null, null, `m=${m} ${c.label}`);
      }
    }
  },
);
