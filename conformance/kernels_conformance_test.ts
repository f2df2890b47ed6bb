import assert from "node:assert/strict";
import { requestDevice } from "../kernels/device.ts";
import { type CaseResult, checkEmbedding, checkLinear } from "./check.ts";
import { readManifest } from "./vectors.ts";
import { type CaseData, liveData, vectorData } from "./sources.ts";
import { caseName, LIVE_CASES } from "./cases.ts";
import { oracle } from "./test_oracle.ts";
import type { LinearVariant, Reduction } from "../kernels/linear.ts";

const device = await requestDevice();
const hasSubgroups = device.features.has("subgroups" as GPUFeatureName);
const RUNS: [LinearVariant, Reduction][] = [
  ["auto", "auto"],
  ["matvec", "workgroup"],
  ...(hasSubgroups ? [["matvec", "subgroup"] as [LinearVariant, Reduction]] : []),
  ["tiled", "auto"],
];
/** Worst NMSE seen per variant, printed at the end for the issue notes. */
const worst = new Map<string, number>();

async function checkAll(data: CaseData): Promise<CaseResult[]> {
  if (data.case.op === "embedding") return [await checkEmbedding(device, data as never)];
  const results: CaseResult[] = [];
  for (const [variant, reduction] of RUNS) {
    results.push(await checkLinear(device, data as never, variant, reduction));
  }
  return results;
}

function assertResults(results: CaseResult[]) {
  for (const r of results) {
    worst.set(r.variant, Math.max(worst.get(r.variant) ?? 0, r.primary.nmse));
    assert.ok(r.ok, `${r.name} [${r.variant}]: ${r.detail}`);
  }
}

const manifest = await readManifest();
for (const entry of manifest.cases) {
  Deno.test(`WebGPU matches committed llama.cpp vector ${entry.name}`, async () => {
    assertResults(await checkAll(await vectorData(entry)));
  });
}

for (const c of LIVE_CASES) {
  Deno.test(
    `WebGPU matches live llama.cpp on ${caseName(c)}`,
    { ignore: oracle === null },
    async () => {
      assertResults(await checkAll(liveData(oracle!, c)));
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
