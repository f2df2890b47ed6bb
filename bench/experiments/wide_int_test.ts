import assert from "node:assert/strict";
import { testDevice } from "../../conformance/test_device.ts";
import { morePlanes, wideIntCandidates } from "./wide_int.ts";

const device = await testDevice();

Deno.test("the two- and three-plane rewrites add each plane's loads and products, and compile", async () => {
  for (const m of [1, 2, 8]) {
    const [base, two, three] = wideIntCandidates(m, 4096, 14336, 65535);
    const count = (s: string, re: RegExp) => s.match(re)?.length ?? 0;
    const dots = count(base.specs[0].wgsl, /dot4I8Packed\(/g);
    assert.ok(dots > 0);
    assert.equal(count(two.specs[0].wgsl, /dot4I8Packed\(/g), 2 * dots);
    assert.equal(count(three.specs[0].wgsl, /dot4I8Packed\(/g), 3 * dots);
    assert.equal(
      count(three.specs[0].wgsl, /\* 65536\.0/g),
      count(base.specs[0].wgsl, /f32\(i|bitcast<f32>\(i/g),
    );
    for (const c of [two, three]) {
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code: c.specs[0].wgsl });
      device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      assert.equal((await device.popErrorScope())?.message ?? null, null, `m=${m} ${c.label}`);
    }
  }
  assert.equal(morePlanes("no activations here", 3), "no activations here");
});
