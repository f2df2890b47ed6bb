// Test support for the ablation scripts: each candidate's WGSL differs from
// the library kernel's exactly when it is a cut, no two cuts are the same
// WGSL, and every one compiles.

import assert from "node:assert/strict";
import type { Candidate } from "./tiled_layouts.ts";

/** Asserts the cuts of `list` (the library kernel first) are distinct WGSL that compiles. */
export async function assertCutsCompile(
  device: GPUDevice,
  list: Candidate[],
  what: string,
): Promise<void> {
  const base = list[0].specs[0].wgsl;
  const seen = new Set<string>();
  for (const c of list) {
    const wgsl = c.specs[0].wgsl;
    const cut = !c.label.startsWith("library");
    assert.equal(wgsl !== base, cut, `${what} ${c.label}`);
    if (cut) {
      assert.ok(!seen.has(wgsl), `${what} ${c.label} repeats another cut`);
      seen.add(wgsl);
    }
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code: wgsl });
    device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
    assert.equal((await device.popErrorScope())?.message ?? null, null, `${what} ${c.label}`);
  }
}
