import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { compareNmse, referenceLinear } from "../conformance/compare.ts";
import { dispatch, DispatchCache, readBack, uploadStorage } from "./_gpu.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { matvecKernel } from "./matvec_kernel.ts";
import { type MatvecConfig, matvecConfigFor } from "./matvec_config.ts";
import { uniformF32 } from "./_rng.ts";
import { quantizedXBytes, quantizeXKernel } from "./quantize_x_kernel.ts";

const device = await testDevice();
const subgroups = device.features.has("subgroups" as GPUFeatureName);

/** Runs one mat-vec configuration on a fresh problem and compares with the f64 reference. */
async function check(
  cfg: MatvecConfig,
  m: number,
  n: number,
  k: number,
  seed: number,
  bound = 1e-10,
): Promise<number> {
  const blob = makeQ5KBlob(n, k, { seed, mode: seed % 2 ? "edge" : "random" });
  const x = uniformF32(m * k, seed + 1, -2, 2);
  const w = uploadStorage(device, "test w", blob);
  const xb = uploadStorage(device, "test x", x);
  const y = device.createBuffer({
    size: m * n * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const uniforms = new DispatchCache(device, "test");
  const spec = matvecKernel(cfg, {
    m,
    n,
    k,
    row0: 0,
    rows: n,
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  const scratch: GPUBuffer[] = [];
  if (cfg.combine === "int8") {
    const sizes = quantizedXBytes(m, k);
    const usage = GPUBufferUsage.STORAGE;
    const xq = device.createBuffer({ size: sizes.q, usage });
    const xs = device.createBuffer({ size: sizes.scales, usage });
    scratch.push(xq, xs);
    const quant = quantizeXKernel(m, k, device.limits.maxComputeWorkgroupsPerDimension);
    dispatch(device, pass, quant, uniforms, [xb, xq, xs]);
    dispatch(device, pass, spec, uniforms, [w, xq, xs, y]);
  } else {
    dispatch(device, pass, spec, uniforms, [w, xb, y]);
  }
  pass.end();
  const got = new Float32Array(await readBack(device, y, m * n * 4, 0, encoder));
  const c = compareNmse(got, referenceLinear(x, dequantizeQ5K(blob), m, n, k), bound);
  assert.ok(c.ok, `${spec.name} m=${m} n=${n} k=${k}: ${c.detail}`);
  for (const b of [w, xb, y, ...scratch]) b.destroy();
  uniforms.destroy();
  return c.nmse;
}

Deno.test("every mat-vec code path matches the f64 reference", async () => {
  const reduces = subgroups ? (["subgroup", "workgroup"] as const) : (["workgroup"] as const);
  let seed = 10;
  for (const reduce of reduces) {
    for (const slotLayout of ["adjacent", "strided"] as const) {
      for (const decode of ["shift", "mask", "unit"] as const) {
        for (const combine of ["factored", "affine"] as const) {
          if (decode === "unit" && combine !== "factored") continue; // factored only
          const base = matvecConfigFor(3, 1024, subgroups ? 8 : 0, reduce === "workgroup", false);
          // 37 rows: a partial last row group; K = 1280: 5 blocks, not a multiple of the slots.
          const cfg: MatvecConfig = { ...base, slotLayout, decode, combine, reduce, unroll: 2 };
          await check(cfg, 3, 37, 1280, seed++);
          await check({ ...cfg, cols: 1, rows: 1, slots: 8 }, 1, 37, 1280, seed++);
        }
      }
    }
  }
});

Deno.test("the int8 mat-vec path stays within its bound of the f64 reference", async () => {
  const reduces = subgroups ? (["subgroup", "workgroup"] as const) : (["workgroup"] as const);
  let worst = 0;
  let seed = 50;
  for (const reduce of reduces) {
    for (const slotLayout of ["adjacent", "strided"] as const) {
      for (const int8Sum of ["convert", "biased"] as const) {
        const base = matvecConfigFor(3, 1024, subgroups ? 8 : 0, reduce === "workgroup", false);
        const cfg: MatvecConfig = {
          ...base,
          lanesPerBlock: 8,
          slotLayout,
          combine: "int8",
          int8Sum,
          reduce,
          unroll: 2,
        };
        worst = Math.max(worst, await check(cfg, 3, 37, 1280, seed++, 5e-4));
        // Four blocks loaded ahead: a whole 16-block row, and 5 blocks (a partial step).
        const ahead = { ...cfg, cols: 1, rows: 1, slots: 4, unroll: 4 as const };
        worst = Math.max(worst, await check(ahead, 1, 37, 4096, seed++, 5e-4));
        worst = Math.max(worst, await check(ahead, 1, 37, 1280, seed++, 5e-4));
        worst = Math.max(
          worst,
          await check({ ...cfg, cols: 1, rows: 1, slots: 8 }, 1, 37, 1280, seed++, 5e-4),
        );
      }
    }
  }
  // 8-bit activations: llama.cpp holds its own q8-activation MUL_MAT to 5e-4 NMSE.
  assert.ok(worst > 1e-9, `worst NMSE ${worst}: suspiciously exact for 8-bit activations`);
});

Deno.test("matvecConfigFor() picks the measured shapes per column count", () => {
  const one = matvecConfigFor(1, 4096, 32, false, false);
  assert.deepEqual([one.slotLayout, one.decode, one.combine], ["adjacent", "shift", "factored"]);
  const eight = matvecConfigFor(8, 4096, 32, false, false);
  assert.deepEqual([eight.slotLayout, eight.decode, eight.combine], ["strided", "mask", "affine"]);
  assert.equal(eight.lanesPerBlock, 16);
  assert.equal(matvecConfigFor(2, 4096, 32, false, false).lanesPerBlock, 8);
  // int8: the biased sum from 2 columns, the conversion at 1; f32 configs have neither.
  const int8Sums = [1, 2, 8].map((m) => matvecConfigFor(m, 4096, 32, false, false, true).int8Sum);
  // int8 at M = 1: 4 blocks ahead on rows of 16, 2 from 32 blocks, none otherwise.
  const unrolls = [2048, 4096, 6144, 14336].map((k) =>
    matvecConfigFor(1, k, 32, false, false, true).unroll
  );
  assert.deepEqual(unrolls, [1, 4, 1, 2]);
  assert.deepEqual(int8Sums, ["convert", "biased", "biased"]);
  assert.equal(eight.int8Sum, undefined);
  // Three blocks per row: slots stay a power of two, so lane groups tile the workgroup.
  for (const m of [1, 3, 8]) {
    for (const int8 of [false, true]) {
      const slots = matvecConfigFor(m, 768, 32, false, false, int8).slots;
      assert.equal(slots, 2, `m=${m} int8=${int8}`);
    }
  }
});

Deno.test("the 24-bit mat-vec never takes biased sums: the config leaves them out, the kernel refuses them", () => {
  const cfg = matvecConfigFor(4, 4096, 32, false, false, true, 3);
  assert.equal(cfg.planes, 3);
  assert.equal(cfg.int8Sum, "convert");
  assert.equal(matvecConfigFor(4, 4096, 32, false, false, true).int8Sum, "biased");
  // Its own layout: 2 rows (4 above M = 1 on rows of 32 blocks and more), 8 blocks a lane group
  // on those rows, 4 otherwise, nothing loaded ahead.
  const layouts = [[1, 4096], [3, 4096], [1, 8192], [3, 14336], [2, 768]].map(([m, k]) => {
    const c = matvecConfigFor(m, k, 32, false, false, true, 3);
    return [c.rows, c.slots, c.unroll];
  });
  assert.deepEqual(layouts, [[2, 4, 1], [2, 4, 1], [2, 8, 1], [4, 8, 1], [2, 2, 1]]);
  const shape = { m: 4, n: 64, k: 4096, row0: 0, rows: 64, maxWorkgroupsPerDimension: 65535 };
  assert.doesNotMatch(matvecKernel(cfg, shape).wgsl, /1262485504i/);
  assert.throws(
    () => matvecKernel({ ...cfg, int8Sum: "biased" }, shape),
    /three activation planes with biased sums/,
  );
});

Deno.test({
  name:
    "butterflies narrower than a super-block's lanes (4-lane subgroups, as SwiftShader's) finish in workgroup memory",
  ignore: !subgroups,
  fn: async () => {
    let seed = 80;
    for (const slotLayout of ["adjacent", "strided"] as const) {
      for (const lanesPerBlock of [8, 16] as const) {
        // Butterflies over 4 lanes are right on any subgroup of 4 or more consecutive lanes.
        const base = matvecConfigFor(3, 1024, 4, false, false);
        assert.equal(base.subgroupWidth, 4);
        assert.equal(base.reduce, "subgroup");
        const cfg: MatvecConfig = { ...base, slotLayout, lanesPerBlock, unroll: 1 };
        await check(cfg, 3, 37, 1280, seed++);
        await check({ ...cfg, cols: 1, rows: 1, slots: 8 }, 1, 37, 1280, seed++);
        await check({ ...cfg, cols: 1, rows: 2, slots: 1 }, 1, 37, 1280, seed++);
      }
      const int8 = matvecConfigFor(2, 1024, 4, false, false, true);
      await check({ ...int8, slotLayout }, 2, 37, 1280, seed++, 5e-4);
    }
  },
});

Deno.test("matvecConfigFor() uses subgroups of WebGPU's smallest size, 4 lanes, and none below", () => {
  assert.equal(matvecConfigFor(1, 4096, 4, false, false).reduce, "subgroup");
  assert.equal(matvecConfigFor(1, 4096, 4, false, false).subgroupWidth, 4);
  assert.equal(matvecConfigFor(1, 4096, 0, false, false).reduce, "workgroup");
  assert.equal(matvecConfigFor(1, 4096, 32, true, false).reduce, "workgroup");
});
