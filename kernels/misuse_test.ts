// Misuse that once gave silent wrong answers: each test failed before its fix.
import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { Q5KLinear, withInternals } from "./linear.ts";
import { Q5KEmbedding } from "./embedding.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { uniformF32 } from "./_rng.ts";
import { DeviceError, submitAndRead, uploadStorage } from "./_gpu.ts";
import { compareNmse, compareUlp, referenceLinear } from "../conformance/compare.ts";
import { requestDevice } from "./device.ts";

const device = await testDevice();
const [N, K] = [40, 512];
const blob = makeQ5KBlob(N, K, { seed: 5, mode: "quantized" });
const x1 = uniformF32(K, 6);
const ref1 = referenceLinear(x1, dequantizeQ5K(blob), 1, N, K);
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

async function stillRight(layer: Q5KLinear): Promise<void> {
  const c = compareNmse(await layer.run(x1, 1), ref1, 1e-10);
  assert.ok(c.ok, `a good run() after the rejection: ${c.detail}`);
}

Deno.test("a run() rejected for a too-large y leaves the layer answering correctly", async () => {
  // A device with WebGPU's default limits (128 MiB bindings) keeps the arrays small.
  const adapter = await navigator.gpu.requestAdapter();
  const small = await adapter!.requestDevice();
  try {
    const [n, k] = [33000, 256];
    const w = makeQ5KBlob(n, k, { seed: 2, mode: "quantized" });
    const layer = Q5KLinear.create(small, w, { n, k });
    const m = Math.floor(small.limits.maxStorageBufferBindingSize / (n * 4)) + 1;
    await assert.rejects(layer.run(new Float32Array(m * k), m), RangeError);
    const x = uniformF32(k, 3);
    const c = compareNmse(
      await layer.run(x, 1),
      referenceLinear(x, dequantizeQ5K(w), 1, n, k),
      1e-10,
    );
    assert.ok(c.ok, c.detail);
    layer.destroy();
  } finally {
    small.destroy();
  }
});

Deno.test("encode() and record() reject every bad buffer before recording anything", async () => {
  const layer = Q5KLinear.create(device, blob, { n: N, k: K });
  const other = await requestDevice();
  const x = uploadStorage(device, "x", x1);
  const y = device.createBuffer({ size: 1024, usage: STORAGE });
  const dead = device.createBuffer({ size: 4096, usage: STORAGE });
  dead.destroy();
  const bad: [string, unknown, unknown, typeof TypeError | typeof RangeError][] = [
    ["offset not a multiple of 256", { buffer: x, offset: 4 }, y, RangeError],
    ["negative offset", { buffer: x, offset: -256 }, y, RangeError],
    ["NaN offset", { buffer: x, offset: NaN }, y, RangeError],
    ["offset + size past the end", { buffer: y, offset: 256, size: 1024 }, x, RangeError],
    ["size not a multiple of 4", x, { buffer: y, size: 162 }, RangeError],
    ["no STORAGE usage", x, device.createBuffer({ size: 256, usage: 8 }), TypeError],
    ["a destroyed buffer", dead, y, TypeError],
    ["a buffer of another device", x, other.createBuffer({ size: 256, usage: STORAGE }), TypeError],
    ["x and y the same buffer", { buffer: y, size: 256 * 4 }, { buffer: y }, RangeError],
  ];
  for (const [what, xArg, yArg, kind] of bad) {
    const encoder = device.createCommandEncoder();
    assert.throws(() => layer.encode(encoder, xArg as GPUBuffer, yArg as GPUBuffer, 1), kind, what);
    // Nothing was recorded: the encoder still finishes cleanly and can be submitted.
    device.pushErrorScope("validation");
    device.queue.submit([encoder.finish()]);
    assert.equal(await device.popErrorScope(), null, what);
    const pass = device.createCommandEncoder().beginComputePass();
    assert.throws(() => layer.record(pass, xArg as GPUBuffer, yArg as GPUBuffer, 1), kind, what);
    pass.end();
  }
  const foreign = other.createCommandEncoder();
  assert.throws(() => layer.encode(foreign, x, y, 1), TypeError);
  const finished = device.createCommandEncoder();
  finished.finish();
  assert.throws(() => layer.encode(finished, x, y, 1), TypeError);
  const locked = device.createCommandEncoder();
  const open = locked.beginComputePass();
  assert.throws(() => layer.encode(locked, x, y, 1), TypeError);
  open.end();
  const ended = device.createCommandEncoder().beginComputePass();
  ended.end();
  assert.throws(() => layer.record(ended, x, y, 1), TypeError);
  await stillRight(layer);
  other.destroy();
  x.destroy();
  y.destroy();
  layer.destroy();
});

Deno.test("encode() binds only the bytes it uses, so a buffer larger than one binding works", async () => {
  const layer = Q5KLinear.create(
    device,
    blob,
    withInternals({ n: N, k: K, maxBindingBytes: 1 << 20 }),
  );
  const x = uploadStorage(device, "x", x1);
  const limit = device.limits.maxStorageBufferBindingSize;
  const size = Math.min(limit + 256, device.limits.maxBufferSize);
  if (size <= limit) return; // The device allows no buffer past one binding.
  const y = device.createBuffer({ size, usage: STORAGE });
  const staging = device.createBuffer({ size: N * 4, usage: 1 | 8 }); // MAP_READ | COPY_DST
  const encoder = device.createCommandEncoder();
  layer.encode(encoder, x, y, 1);
  encoder.copyBufferToBuffer(y, 0, staging, 0, N * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const c = compareNmse(new Float32Array(staging.getMappedRange().slice(0)), ref1, 1e-10);
  assert.ok(c.ok, c.detail);
  for (const b of [x, y, staging]) b.destroy();
  layer.destroy();
});

Deno.test("run() and lookup() on a destroyed device reject with a DeviceError saying so", async () => {
  const own = await requestDevice();
  const layer = Q5KLinear.create(own, blob, { n: N, k: K });
  const table = Q5KEmbedding.create(own, blob, { rows: N, k: K });
  own.destroy();
  await assert.rejects(layer.run(x1, 1), (e: Error) => {
    assert.ok(e instanceof DeviceError, String(e));
    assert.match(e.message, /device was destroyed/);
    return true;
  });
  await assert.rejects(table.lookup([1]), /device was destroyed/);
  assert.throws(() => Q5KLinear.create(own, blob, { n: N, k: K }), /device was destroyed/);
});

Deno.test("a validation error the device reports rejects run()'s readback instead of returning zeros", async () => {
  const y = device.createBuffer({ size: 256, usage: STORAGE });
  const dead = device.createBuffer({ size: 256, usage: STORAGE });
  dead.destroy();
  await assert.rejects(
    submitAndRead(
      device,
      "test",
      (encoder) => {
        encoder.copyBufferToBuffer(dead, 0, y, 0, 256);
      },
      y,
      256,
    ),
    (e: Error) => e instanceof DeviceError && e.kind === "validation",
  );
  // The device still works.
  const ok = await submitAndRead(device, "test", () => {}, y, 16);
  assert.equal(ok.byteLength, 16);
  y.destroy();
});

Deno.test("unknown option keys and null variants are TypeErrors or RangeErrors naming them", () => {
  assert.throws(
    () => Q5KLinear.create(device, blob, { n: N, k: K, activation: "int8" } as never),
    /no key "activation" \(accepted: n, k, bias, variant, reduction, activations\)/,
  );
  assert.throws(
    () => Q5KLinear.create(device, blob, { n: N, k: K, variant: null } as never),
    /variant must be one of auto, matvec, rowlane, tiled, current value is null/,
  );
  assert.throws(
    () => Q5KEmbedding.create(device, blob, { rows: N, k: K, row: 3 } as never),
    /no key "row"/,
  );
});

Deno.test("run() rejects NaN and ±Inf activations naming the index", async () => {
  const layer = Q5KLinear.create(device, blob, { n: N, k: K });
  for (const bad of [NaN, Infinity, -Infinity]) {
    const x = x1.slice();
    x[77] = bad;
    await assert.rejects(layer.run(x, 1), new RegExp(`index 77 is ${bad}`));
  }
  await stillRight(layer);
  layer.destroy();
});

Deno.test("a dropped adapter does not take the process down (gc between requestDevice and create)", async () => {
  const script = `
    import { makeQ5KBlob, Q5KLinear, requestDevice } from ${
    JSON.stringify(import.meta.resolve("../mod.ts"))
  };
    const device = await requestDevice();
    for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
    const layer = Q5KLinear.create(device, makeQ5KBlob(64, 256), { n: 64, k: 256 });
    const y = await layer.run(new Float32Array(256).fill(1), 1);
    console.log("ok", y.length);
    layer.destroy();
    device.destroy();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.match(text, /ok 64/, new TextDecoder().decode(out.stderr));
});

Deno.test("lookup() after a rejected lookup still gathers llama.cpp-exact rows", async () => {
  const table = Q5KEmbedding.create(device, blob, { rows: N, k: K });
  await assert.rejects(table.lookup([1, N]), RangeError);
  const got = await table.lookup([3]);
  const want = dequantizeQ5K(blob).subarray(3 * K, 4 * K);
  assert.ok(compareUlp(got, want, 0).ok);
  table.destroy();
});
