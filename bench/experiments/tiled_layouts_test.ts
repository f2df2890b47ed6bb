import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import {
  candidates,
  dp4aPeakKernel,
  fmaPeakKernel,
  registerTileKernel,
  variantsFor,
} from "./tiled_layouts.ts";
import { hasPackedDot } from "../../kernels/linear.ts";
import { tileFor } from "../../kernels/tiled_kernel.ts";
import { emptyKernel } from "./pass_cost.ts";

const device = await testDevice();

async function compiles(wgsl: string): Promise<string | null> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: wgsl });
  device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  return (await device.popErrorScope())?.message ?? null;
}

fullTest("every tiled-layout candidate of a split is distinct WGSL that compiles", async () => {
  // The 48 KiB tiles (256×128) exist only where the adapter allows them.
  const bytes = device.limits.maxComputeWorkgroupStorageSize;
  const tall = bytes >= 49152 ? 2 : 0;
  const big = (v: { tall?: boolean }) => !!v.tall;
  assert.equal(variantsFor(128, 49152).filter(big).length, 2);
  assert.equal(variantsFor(128, 32768).filter(big).length, 0);
  assert.equal(variantsFor(64, 49152).filter(big).length, 0);
  for (const m of [16, 64, 512]) {
    const list = candidates(m, 4096, 14336, 65535, "", bytes);
    const bySplit = Map.groupBy(list, (c) => c.label.split(" split ")[1]);
    const variants = variantsFor(tileFor(49152, m).tm, bytes);
    assert.equal(variants.length, m > 64 ? 10 + tall : m === 64 ? 8 : 2, `m=${m}`);
    for (const v of variants) {
      assert.ok(list.some((c) => c.label.startsWith(`${v.label} `)), `m=${m} ${v.label}`);
    }
    for (const [split, group] of bySplit) {
      // The 256-row variants (256×128 tiles) take their own split counts.
      const library = group.filter((c) => !/ tm256/.test(c.label));
      if (library.length) {
        assert.equal(library.length, m > 64 ? 10 : m === 64 ? 8 : 2, `m=${m} split ${split}`);
      }
      assert.equal(
        new Set(group.map((c) => c.specs[0].wgsl)).size,
        group.length,
        `m=${m} split ${split}`,
      );
    }
    const only = candidates(m, 4096, 14336, 65535, "xT apart", bytes);
    assert.equal(only.length > 0, m >= 64, `m=${m}`);
    assert.ok(only.every((c) => c.label.startsWith("outer xT apart")));
    for (const c of list) {
      assert.equal(c.specs.length, c.partBytes ? 2 : 1, c.label);
      assert.equal(await compiles(c.specs[0].wgsl), null, `m=${m} ${c.label}`);
    }
  }
  assert.equal(await compiles(fmaPeakKernel(1, 4).wgsl), null);
  assert.equal(await compiles(fmaPeakKernel(1, 4, "runtime").wgsl), null);
  assert.notEqual(fmaPeakKernel(1, 4, "runtime").key, fmaPeakKernel(1, 4).key);
  const wide = fmaPeakKernel(1, 4, "runtime", { chains: 16, unroll: 4 });
  assert.equal(await compiles(wide.wgsl), null);
  assert.equal(wide.wgsl.match(/= fma\(/g)?.length, 64);
  assert.match(wide.wgsl, /i < 1u;/);
  for (const layout of ["rows", "outer"] as const) {
    const tile = registerTileKernel(1, 4, layout);
    assert.equal(await compiles(tile.wgsl), null, layout);
    assert.equal(tile.wgsl.match(/fma\(/g)?.length, layout === "rows" ? 256 : 64, layout);
  }
  assert.equal(fmaPeakKernel(1, 4).wgsl.match(/= fma\(/g)?.length, 8);
  assert.throws(() => fmaPeakKernel(1, 6, "runtime", { unroll: 4 }), RangeError);
  if (hasPackedDot()) assert.equal(await compiles(dp4aPeakKernel(1, 4).wgsl), null);
  assert.equal(await compiles(emptyKernel(1).wgsl), null); // the same sink, empty
});
