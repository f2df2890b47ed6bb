import assert from "node:assert/strict";
import { testDevice } from "./test_device.ts";
import type { CaseResult } from "./check.ts";
import { readManifest } from "./vectors.ts";
import { liveData, vectorData } from "./sources.ts";
import { caseName, LIVE_CASES } from "./cases.ts";
import { checkCase as checkAll, linearRuns } from "./suite.ts";
import { oracle } from "./test_oracle.ts";

const device = await testDevice();
/** Worst NMSE seen per variant, printed at the end for the issue notes. */
const worst = new Map<string, number>();

Deno.test("the conformance runs cover auto, both mat-vec reductions where granted, and tiled", () => {
  const runs = linearRuns(device).map(([v, r]) => `${v}/${r}`);
  assert.ok(
    runs.includes("matvec/workgroup") && runs.includes("tiled/auto") && runs.includes("auto/auto"),
  );
  if (device.features.has("subgroups" as GPUFeatureName)) {
    assert.ok(runs.includes("matvec/subgroup"));
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
    assert.ok(nmse <= 1e-10 || variant === "gather");
  }
});
