import assert from "node:assert/strict";
import { testDevice } from "../../conformance/test_device.ts";
import { candidates, fmaPeakKernel } from "./tiled_layouts.ts";

const device = await testDevice();

async function compiles(wgsl: string): Promise<string | null> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: wgsl });
  device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  return (await device.popErrorScope())?.message ?? null;
}

Deno.test("every tiled-layout candidate is distinct WGSL that compiles, the FMA rewrite included", async () => {
  for (const m of [16, 64, 512]) {
    const list = candidates(m, 4096, 14336, 65535);
    assert.equal(new Set(list.map((c) => c.specs[0].wgsl)).size, list.length, `m=${m}`);
    for (const c of list) {
      if (c.label.startsWith("rows-fma")) assert.doesNotMatch(c.specs[0].wgsl, /\+= dot\(/);
      assert.equal(c.specs.length, c.partBytes ? 2 : 1, c.label);
      assert.equal(await compiles(c.specs[0].wgsl), null, `m=${m} ${c.label}`);
    }
  }
  assert.equal(await compiles(fmaPeakKernel(1, 4).wgsl), null);
});
