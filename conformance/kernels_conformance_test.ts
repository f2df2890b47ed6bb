import assert from "node:assert/strict";
import { testDevice } from "./test_device.ts";
import { type CaseResult, LINEAR_INT8_REF_NMSE, LINEAR_REF_NMSE } from "./check.ts";
import { hasPackedDot } from "../kernels/linear.ts";
import { readManifest } from "./vectors.ts";
import { liveData, vectorData } from "./sources.ts";
import { caseName, LIVE_CASES } from "./cases.ts";
import { checkCase as checkAll, ourImplementations } from "./suite.ts";
import { oracle } from "./test_oracle.ts";

const device = await testDevice();
/** Worst NMSE seen per variant, printed at the end for the issue notes. */
const worst = new Map<string, number>();

Deno.test("the conformance runs cover auto, both mat-vec reductions where granted, lane-per-row, tiled, 24-bit and int8", () => {
  const runs = ourImplementations(device).map((i) => i.name);
  assert.equal(runs.includes("kquant:matvec/int24"), hasPackedDot());
  assert.equal(runs.includes("kquant:matvec/int8"), hasPackedDot());
  assert.equal(runs.includes("kquant:tiled/int8"), hasPackedDot());
  assert.equal(runs.includes("kquant:rowlane/int8"), hasPackedDot());
  assert.ok(
    runs.includes("kquant:matvec/workgroup/f32") && runs.includes("kquant:tiled/f32") &&
      runs.includes("kquant:rowlane/f32") && runs.includes("kquant"),
  );
  if (device.features.has("subgroups" as GPUFeatureName)) {
    assert.ok(runs.includes("kquant:matvec/subgroup/f32"));
  }
});

function assertResults(results: CaseResult[]) {
  for (const r of results) {
    worst.set(r.variant, Math.max(worst.get(r.variant) ?? 0, r.primary.nmse));
    assert.ok(r.ok, `${r.name} [${r.variant}]: ${r.detail}`);
  }
}

const manifest = await readManifest();
for (const entry of manifest.cases) {
  Deno.test(`WebGPU matches committed llama.cpp vector ${entry.name}`, async () => {
    assertResults(await checkAll(device, await vectorData(entry)));
  });
}

for (const c of LIVE_CASES) {
  Deno.test(
    `WebGPU matches live llama.cpp on ${caseName(c)}`,
    { ignore: oracle === null },
    async () => {
      assertResults(await checkAll(device, liveData(oracle!, c)));
    },
  );
}

Deno.test("worst NMSE per variant stays within the bounds (printed for the record)", () => {
  assert.ok(worst.size > 0);
  for (const [variant, nmse] of worst) {
    // deno-lint-ignore no-console
    console.log(`worst NMSE ${variant}: ${nmse === 0 ? 0 : nmse.toExponential(2)}`);
    if (variant.includes("int8")) {
      // 8-bit activations: inside llama.cpp's bound, and visibly not exact.
      assert.ok(nmse <= LINEAR_INT8_REF_NMSE && nmse > 1e-9, `${variant}: ${nmse}`);
    } else {
      assert.ok(nmse <= LINEAR_REF_NMSE || variant === "gather", `${variant}: ${nmse}`);
    }
  }
});
