import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { hasPackedDot, Q5KLinear, withInternals } from "./linear.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { normalF32, uniformF32 } from "./_rng.ts";
import { dispatch, DispatchCache, readBack, uploadStorage } from "./_gpu.ts";
import { quantizedXBytes, quantizeXKernel, WIDE_X_MAX } from "./quantize_x_kernel.ts";
import { compareNmse, referenceLinear } from "../conformance/compare.ts";

const device = await testDevice();
const packed = hasPackedDot();

function reference(blob: Uint8Array, x: Float32Array, m: number, n: number, k: number) {
  return referenceLinear(x, dequantizeQ5K(blob), m, n, k);
}

/** Activations whose runs of 32 span six orders of magnitude, with zero runs and one huge value. */
function spreadF32(length: number, seed: number): Float32Array {
  const x = normalF32(length, seed);
  for (let i = 0; i < length; i++) x[i] *= 10 ** ((i % 7) - 3);
  x.fill(0, 64, 96);
  x[5] = 3e4;
  return x;
}

Deno.test({
  name:
    "24-bit activations: the quantizer's three digits rebuild every value to 2⁻²³ of its run's largest",
  ignore: !packed,
  fn: async () => {
    const [m, k] = [3, 512];
    const x = spreadF32(m * k, 5);
    const spec = quantizeXKernel(m, k, device.limits.maxComputeWorkgroupsPerDimension, 3);
    const bytes = quantizedXBytes(m, k, 3);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    const q = device.createBuffer({ size: bytes.q, usage });
    const scales = device.createBuffer({ size: bytes.scales, usage });
    const xBuf = uploadStorage(device, "x", x);
    const cache = new DispatchCache(device, "test");
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatch(device, pass, spec, cache, [xBuf, q, scales]);
    pass.end();
    const digits = new Int8Array(await readBack(device, q, bytes.q, 0, encoder));
    const ds = new Float32Array(await readBack(device, scales, bytes.scales));
    const plane = m * k;
    for (let run = 0; run < plane / 32; run++) {
      const [d, sum] = [ds[2 * run], ds[2 * run + 1]];
      let amax = 0;
      let quantized = 0;
      for (let i = 32 * run; i < 32 * run + 32; i++) {
        amax = Math.max(amax, Math.abs(x[i]));
        quantized += 65536 * digits[i] + 256 * digits[i + plane] + digits[i + 2 * plane];
      }
      assert.ok(Math.abs(d - amax / WIDE_X_MAX) <= 1e-6 * d, `run ${run}: d ${d}`);
      // The min term's sum is the quantized one, d·Σv (see quantize_x_kernel.ts).
      assert.ok(
        Math.abs(sum - d * quantized) <= 1e-6 * Math.abs(d * quantized) + 1e-30,
        `run ${run}: sum ${sum} against d·Σv ${d * quantized}`,
      );
      for (let i = 32 * run; i < 32 * run + 32; i++) {
        const v = 65536 * digits[i] + 256 * digits[i + plane] + digits[i + 2 * plane];
        assert.ok(Math.abs(v) <= WIDE_X_MAX, `x[${i}]: v ${v}`);
        assert.ok(Math.abs(x[i] - d * v) <= 1.5 * d, `x[${i}] = ${x[i]} rebuilt as ${d * v}`);
      }
    }
    for (const b of [q, scales, xBuf]) b.destroy();
    cache.destroy();
  },
});

Deno.test({
  name:
    "24-bit activations: the mat-vec keeps f32 accuracy at M = 1…4, with bias, chunks, wide-range runs and a shared pass",
  ignore: !packed,
  fn: async () => {
    const [n, k] = [300, 768];
    const blob = makeQ5KBlob(n, k, { seed: 41, mode: "quantized" });
    const bias = uniformF32(n, 42, -1, 1);
    for (const m of [1, 2, 3, 4]) {
      for (
        const [label, x] of [
          ["uniform", uniformF32(m * k, 50 + m, -3, 3)],
          ["spread", spreadF32(m * k, 60 + m)],
        ] as const
      ) {
        const ref = reference(blob, x, m, n, k);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) ref[i * n + j] += bias[j];
        for (const maxBindingBytes of [undefined, 65536]) {
          const layer = Q5KLinear.create(
            device,
            blob,
            withInternals({
              n,
              k,
              bias,
              maxBindingBytes,
              wideMatvecM: 4,
            }),
          );
          assert.equal(layer.activationsFor(m), "int24");
          const what = `m=${m} ${label} binding=${maxBindingBytes}`;
          const c = compareNmse(await layer.run(x, m), ref, 1e-12);
          assert.ok(c.ok, `${what}: ${c.detail}`);
          // The same op recorded into a pass it shares, twice, into two outputs.
          const xb = uploadStorage(device, "x", x);
          const ys = [0, 1].map(() =>
            device.createBuffer({
              size: m * n * 4,
              usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
            })
          );
          const encoder = device.createCommandEncoder();
          const pass = encoder.beginComputePass();
          for (const y of ys) layer.record(pass, xb, y, m);
          pass.end();
          device.queue.submit([encoder.finish()]);
          for (const y of ys) {
            const got = new Float32Array(await readBack(device, y, m * n * 4));
            const s = compareNmse(got, ref, 1e-12);
            assert.ok(s.ok, `${what} shared pass: ${s.detail}`);
            y.destroy();
          }
          xb.destroy();
          layer.destroy();
        }
      }
    }
  },
});

Deno.test({
  name:
    "24-bit activations: rows of 32 blocks and more (8 a lane group, 4 rows above M = 1) keep f32 accuracy",
  ignore: !packed,
  fn: async () => {
    // 37 rows: the last lane groups of the last workgroup hold fewer rows than they compute.
    const [n, k] = [37, 8192];
    const blob = makeQ5KBlob(n, k, { seed: 43, mode: "quantized" });
    const layer = Q5KLinear.create(
      device,
      blob,
      withInternals({ n, k, variant: "matvec", wideMatvecM: 3 }),
    );
    for (const m of [1, 2, 3]) {
      assert.equal(layer.activationsFor(m), "int24");
      const x = spreadF32(m * k, 70 + m);
      const c = compareNmse(await layer.run(x, m), reference(blob, x, m, n, k), 1e-12);
      assert.ok(c.ok, `m=${m}: ${c.detail}`);
    }
    layer.destroy();
  },
});

Deno.test("activationsFor() names what each batch size multiplies with, and rejects a bad M or flag", () => {
  const blob = makeQ5KBlob(16, 256);
  const make = (o: object) => Q5KLinear.create(device, blob, { n: 16, k: 256, ...o });
  const wide = make({ wideMatvecM: 3 });
  const int24 = packed ? "int24" : "f32";
  assert.deepEqual([1, 2, 3, 4].map((m) => wide.activationsFor(m)), [int24, int24, int24, "f32"]);
  assert.equal(wide.activationsFor(3, true), int24);
  if (packed) {
    assert.equal(wide.kernelFor(3), "matvec");
    assert.ok(wide.maxMatvecM >= 3);
  }
  for (const m of [0, 1.5, Number.NaN]) assert.throws(() => wide.activationsFor(m), RangeError);
  assert.throws(() => wide.activationsFor("2" as never), TypeError, '"2"');
  assert.throws(() => wide.activationsFor(2, 1 as never), TypeError, "shared");
  assert.equal(wide.activationsFor(2), int24);
  wide.destroy();
  const cases: [object, string][] = [
    [{ wideMatvecM: 3, activations: "f32" }, "f32"],
    [{ wideMatvecM: 3, variant: "rowlane" }, "f32"],
    [{ wideMatvecM: 0 }, "f32"],
  ];
  if (packed) cases.push([{ wideMatvecM: 3, activations: "int8" }, "int8"]);
  for (const [opts, expected] of cases) {
    const layer = make(opts);
    assert.equal(layer.activationsFor(1), expected, JSON.stringify(opts));
    layer.destroy();
  }
  // Long rows take it at M = 1 too (since their own layout; f32 before).
  const long = Q5KLinear.create(
    device,
    makeQ5KBlob(4, 8192),
    withInternals({ n: 4, k: 8192, wideMatvecM: 3 }),
  );
  assert.deepEqual([1, 2, 3].map((m) => long.activationsFor(m)), [int24, int24, int24]);
  assert.equal(long.kernelFor(1), "matvec");
  long.destroy();
  assert.throws(() => make({ wideMatvecM: -1 }), RangeError, "wideMatvecM");
  assert.throws(() => make({ wideMatvecM: 1.5 }), RangeError, "1.5");
  assert.throws(() => make({ wideMatvecM: "2" }), TypeError, '"2"');
  assert.throws(() => make({ activations: "int24" }), RangeError, '"int24"');
  // The bench and conformance runs ask for it at every M they run, with the mat-vec forced.
  const forced = Q5KLinear.create(
    device,
    makeQ5KBlob(4, 8192),
    withInternals({
      n: 4,
      k: 8192,
      variant: "matvec",
      wideMatvecM: 40,
    }),
  );
  assert.deepEqual([1, 9, 40, 41].map((m) => forced.activationsFor(m)), [
    int24,
    int24,
    int24,
    "f32",
  ]);
  forced.destroy();
  const notAuto = make({ wideMatvecM: 40, activations: "f32", variant: "matvec" });
  assert.equal(notAuto.activationsFor(1), "f32");
  notAuto.destroy();
  const layer = make({});
  assert.equal(layer.activations, "auto");
  layer.destroy();
});
