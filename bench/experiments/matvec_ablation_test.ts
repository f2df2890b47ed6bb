import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { ablationCandidates, CUTS } from "./matvec_ablation.ts";
import { assertCutsCompile } from "./_ablation_check.ts";

const device = await testDevice();

fullTest(
  "every ablation cut changes the kernel and still compiles, mat-vec and lane-per-row",
  async () => {
    for (const m of [1, 2, 4, 16]) {
      const list = ablationCandidates(m, 4096, 14336, 32, 65535, 2);
      const cuts = CUTS.filter((c) => !c.matvecOnly || m <= 2).length;
      assert.equal(list.length, cuts + 4);
      await assertCutsCompile(device, list, `m=${m}`);
    }
  },
);
