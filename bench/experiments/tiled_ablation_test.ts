import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { TILED_CUTS, tiledAblationCandidates } from "./tiled_ablation.ts";
import { assertCutsCompile } from "./_ablation_check.ts";

const device = await testDevice();

fullTest(
  "every tiled ablation cut changes the kernel, differs from the others and still compiles, both layouts",
  async () => {
    for (
      const [m, layout] of [[128, "rows"], [512, "rows"], [512, "outer"]] as const
    ) {
      const list = tiledAblationCandidates(m, 4096, 14336, 65535, layout);
      assert.equal(list.length, TILED_CUTS.length + 3);
      const base = list[0].specs[0].wgsl;
      for (const { label, gone } of TILED_CUTS) {
        assert.match(base, gone, `m=${m}: the library kernel has what "${label}" cuts`);
        const cut = list.find((c) => c.label === label)!.specs[0].wgsl;
        assert.doesNotMatch(cut, gone, `m=${m} ${label}`);
        assert.doesNotMatch(list[list.length - 2].specs[0].wgsl, gone, `m=${m} all four, ${label}`);
      }
      await assertCutsCompile(device, list, `m=${m} ${layout}`);
    }
  },
);
