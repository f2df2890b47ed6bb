import assert from "node:assert/strict";
import { runs48KiBTiles, testDevice } from "../conformance/test_device.ts";
import { hasPackedDot, Q5KLinear, withInternals } from "./linear.ts";
import { familyFor } from "./crossover.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { uniformF32 } from "./_rng.ts";
import { pipelineCount, pipelineKeys, readBack, uploadStorage } from "./_gpu.ts";
import { compareNmse, referenceLinear } from "../conformance/compare.ts";

const device = await testDevice();

function reference(blob: Uint8Array, x: Float32Array, m: number, n: number, k: number) {
  return referenceLinear(x, dequantizeQ5K(blob), m, n, k);
}

Deno.test("Q5KLinear adds the bias on every variant", async () => {
  const [m, n, k] = [3, 40, 512];
  const blob = makeQ5KBlob(n, k, { seed: 1, mode: "quantized" });
  const x = uniformF32(m * k, 2);
  const bias = uniformF32(n, 3, -5, 5);
  const ref = reference(blob, x, m, n, k);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) ref[i * n + j] += bias[j];
  for (const variant of ["auto", "matvec", "rowlane", "tiled"] as const) {
    const layer = Q5KLinear.create(device, blob, { n, k, bias, variant });
    const c = compareNmse(await layer.run(x, m), ref, 1e-10);
    assert.ok(c.ok, `${variant}: ${c.detail}`);
    layer.destroy();
  }
});

Deno.test("Q5KLinear encodes into alternating buffers correctly (cached bind groups follow the buffers)", async () => {
  const [n, k] = [64, 512];
  const blob = makeQ5KBlob(n, k, { seed: 9, mode: "quantized" });
  for (const activations of ["f32", "int8"] as const) {
    const layer = Q5KLinear.create(device, blob, { n, k, activations, variant: "matvec" });
    const bound = activations === "f32" ? 1e-10 : 5e-4;
    const xs = [uniformF32(2 * k, 31), uniformF32(2 * k, 32)].map((x) => ({
      x,
      buffer: uploadStorage(device, "x", x),
    }));
    const ys = [0, 1, 2].map(() =>
      device.createBuffer({
        size: 2 * n * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      })
    );
    for (let round = 0; round < 2; round++) {
      const encoder = device.createCommandEncoder();
      // x0→y0, x1→y1, x0→y2 (m = 1 there) in one encoder, twice.
      layer.encode(encoder, xs[0].buffer, ys[0], 2);
      layer.encode(encoder, xs[1].buffer, ys[1], 2);
      layer.encode(encoder, xs[0].buffer, ys[2], 1);
      device.queue.submit([encoder.finish()]);
      const want = [
        reference(blob, xs[0].x, 2, n, k),
        reference(blob, xs[1].x, 2, n, k),
        reference(blob, xs[0].x.subarray(0, k), 1, n, k),
      ];
      for (let i = 0; i < 3; i++) {
        const got = new Float32Array(await readBack(device, ys[i], want[i].length * 4));
        const c = compareNmse(got, want[i], bound);
        assert.ok(c.ok, `${activations} round ${round} y${i}: ${c.detail}`);
      }
    }
    for (const b of [...xs.map((x) => x.buffer), ...ys]) b.destroy();
    layer.destroy();
  }
});

Deno.test("Q5KLinear splits weights over several bindings when one is too small", async () => {
  const [n, k] = [300, 1024];
  const blob = makeQ5KBlob(n, k, { seed: 5, mode: "edge" });
  for (const m of [1, 5, 70]) {
    const x = uniformF32(m * k, m);
    for (const variant of ["matvec", "rowlane", "tiled"] as const) {
      // 64 KiB bindings: 300 rows of 704 bytes need 4 chunks.
      const layer = Q5KLinear.create(
        device,
        blob,
        withInternals({ n, k, variant, maxBindingBytes: 65536 }),
      );
      const c = compareNmse(await layer.run(x, m), reference(blob, x, m, n, k), 1e-10);
      assert.ok(c.ok, `${variant} m=${m}: ${c.detail}`);
      layer.destroy();
    }
  }
});

Deno.test("Q5KLinear auto picks mat-vec, lane-per-row and tiled at the device's crossover", () => {
  // f32 activations: the 24-bit mat-vec's own limit is linear_wide_test.ts's.
  const layer = Q5KLinear.create(device, makeQ5KBlob(16, 256), {
    n: 16,
    k: 256,
    activations: "f32",
  });
  const { maxMatvecM, maxRowLaneM, maxInt8MatvecM, maxInt8RowLaneM } = layer.crossover;
  assert.equal(layer.maxMatvecM, maxMatvecM);
  assert.equal(layer.kernelFor(1), "matvec");
  assert.equal(layer.kernelFor(maxMatvecM), "matvec");
  if (maxRowLaneM > maxMatvecM) {
    assert.equal(layer.kernelFor(maxMatvecM + 1), "rowlane");
    assert.equal(layer.kernelFor(maxRowLaneM), "rowlane");
  }
  assert.equal(layer.kernelFor(maxRowLaneM + 1), "tiled");
  // In a shared pass (record()) the crossover's shared-pass limit applies.
  for (const m of [1, 2, 3, maxMatvecM, maxRowLaneM + 1]) {
    assert.equal(layer.kernelFor(m, true), familyFor(layer.crossover, m, false, true));
  }
  layer.destroy();
  if (hasPackedDot()) {
    const int8 = Q5KLinear.create(device, makeQ5KBlob(16, 256), {
      n: 16,
      k: 256,
      activations: "int8",
    });
    assert.equal(int8.maxMatvecM, maxInt8MatvecM);
    assert.equal(int8.kernelFor(maxInt8MatvecM), "matvec");
    if (maxInt8RowLaneM > maxInt8MatvecM) {
      assert.equal(int8.kernelFor(maxInt8MatvecM + 1), "rowlane");
      assert.equal(int8.kernelFor(maxInt8RowLaneM), "rowlane");
    }
    assert.equal(int8.kernelFor(maxInt8RowLaneM + 1), "tiled");
    int8.destroy();
  }
  const forced = Q5KLinear.create(device, makeQ5KBlob(16, 256), {
    n: 16,
    k: 256,
    variant: "tiled",
  });
  assert.equal(forced.kernelFor(1), "tiled");
  assert.equal(forced.kernelFor(1, true), "tiled");
  forced.destroy();
});

Deno.test("Q5KLinear.kernelFor() rejects a bad M or shared flag and keeps working", () => {
  const layer = Q5KLinear.create(device, makeQ5KBlob(16, 256), { n: 16, k: 256 });
  for (const m of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => layer.kernelFor(m), RangeError, `m = ${m}`);
  }
  assert.throws(() => layer.kernelFor("2" as unknown as number), TypeError);
  assert.throws(() => layer.kernelFor(0), /m must be a positive integer, current value is 0/);
  assert.throws(
    () => layer.kernelFor(2, "yes" as unknown as boolean),
    /shared must be a boolean, current value is "yes"/,
  );
  assert.equal(layer.kernelFor(1), "matvec");
  layer.destroy();
});

Deno.test("Q5KLinear rejects bad input before dispatching, and keeps working", async () => {
  const [n, k] = [16, 256];
  const blob = makeQ5KBlob(n, k, { seed: 2 });
  const create = (w: Uint8Array, o: object) => () => Q5KLinear.create(device, w, o as never);
  assert.throws(
    create(blob, { n, k: 300 }),
    RangeError,
    "k must be a multiple of 256, current value is 300",
  );
  assert.throws(
    create(blob, { n: 0, k }),
    RangeError,
    "n must be a positive integer, current value is 0",
  );
  assert.throws(create(blob, { n: 2.5, k }), RangeError, "2.5");
  assert.throws(create(blob, { n: "16", k }), TypeError, '"16"');
  assert.throws(create(blob, { n: 15, k }), RangeError, "current value is 2816");
  assert.throws(create(blob.subarray(1), { n, k }), RangeError, "current value is 2815");
  assert.throws(create([1] as never, { n, k }), TypeError, "Array(1)");
  assert.throws(
    create(blob, { n, k, bias: new Float32Array(15) }),
    RangeError,
    "bias length must equal n = 16, current value is 15",
  );
  assert.throws(create(blob, { n, k, bias: [1] }), TypeError, "bias");
  assert.throws(create(blob, { n, k, variant: "fast" }), RangeError, '"fast"');
  assert.throws(create(blob, { n, k, reduction: "tree" }), RangeError, '"tree"');
  assert.throws(create(blob, { n, k, activations: "int4" }), RangeError, '"int4"');
  assert.throws(create(blob, { n, k, activations: 8 }), RangeError, "current value is 8");
  assert.throws(create(blob, { n, k, transposedTiled: "yes" }), TypeError, '"yes"');
  assert.throws(create(blob, { n, k, tallTiledFromM: 0 }), RangeError, "tallTiledFromM");
  assert.throws(create(blob, { n, k, tallTiledFromM: "256" }), TypeError, '"256"');
  assert.throws(create(blob, null as never), TypeError);
  assert.throws(() => Q5KLinear.create({} as never, blob, { n, k }), TypeError, "device");

  const layer = Q5KLinear.create(device, blob, { n, k });
  const x = uniformF32(2 * k, 9);
  await assert.rejects(
    layer.run(x, 0),
    RangeError,
    "m must be a positive integer, current value is 0",
  );
  await assert.rejects(layer.run(x, 1.5), RangeError, "1.5");
  await assert.rejects(
    layer.run(x, 3),
    RangeError,
    "x length must be m·k = 768, current value is 512",
  );
  await assert.rejects(layer.run(new Float64Array(512) as never, 2), TypeError, "Float64Array");
  await assert.rejects(layer.run(x, "2" as never), TypeError, '"2"');
  const small = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
  assert.throws(
    () => layer.encode(device.createCommandEncoder(), small, small, 2),
    RangeError,
    "x must hold m·k·4 = 2048 bytes, current value is 256",
  );
  const tooMany = Math.floor(device.limits.maxStorageBufferBindingSize / (k * 4)) + 1;
  assert.throws(
    () => layer.encode(device.createCommandEncoder(), small, small, tooMany),
    RangeError,
    `maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize} bytes, current value is ${
      tooMany * k * 4
    }`,
  );
  small.destroy();
  const c = compareNmse(await layer.run(x, 2), reference(blob, x, 2, n, k), 1e-10);
  assert.ok(c.ok, c.detail);
  layer.destroy();
  await assert.rejects(layer.run(x, 2), TypeError, "destroyed");
});

Deno.test("200 create/run/destroy cycles leave no live GPU buffers and compile each pipeline once", async () => {
  let live = 0;
  const created = device.createBuffer.bind(device);
  device.createBuffer = (desc: GPUBufferDescriptor) => {
    const buffer = created(desc);
    live++;
    const destroy = buffer.destroy.bind(buffer);
    let gone = false;
    buffer.destroy = () => {
      if (!gone) live--;
      gone = true;
      destroy();
    };
    return buffer;
  };
  try {
    const [n, k] = [32, 256];
    const blob = makeQ5KBlob(n, k, { seed: 8 });
    const x = uniformF32(4 * k, 1);
    let pipelines = -1;
    for (let i = 0; i < 200; i++) {
      const layer = Q5KLinear.create(device, blob, {
        n,
        k,
        variant: i % 2 ? "tiled" : "matvec",
        activations: i % 4 === 2 ? "int8" : "f32",
      });
      const y = await layer.run(x, 4);
      assert.equal(y.length, 4 * n);
      layer.destroy();
      assert.equal(live, 0, `cycle ${i}`);
      if (i === 3) pipelines = pipelineCount(device);
    }
    assert.equal(pipelineCount(device), pipelines);
  } finally {
    device.createBuffer = created;
  }
});

Deno.test("int8 activations: within llama.cpp's bound of the f64 reference at every M and kernel, with bias, chunks and split-K", async () => {
  const [n, k] = [300, 1024];
  const blob = makeQ5KBlob(n, k, { seed: 21, mode: "quantized" });
  const bias = uniformF32(n, 22, -1, 1);
  for (const m of [1, 2, 5, 8, 20, 33, 130]) {
    const x = uniformF32(m * k, 30 + m, -3, 3);
    const ref = reference(blob, x, m, n, k);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) ref[i * n + j] += bias[j];
    for (const variant of ["auto", "matvec", "rowlane", "tiled"] as const) {
      // 64 KiB bindings split the weights into chunks (and rule out split-K);
      // whole, the tiled and lane-per-row kernels split K for these small grids.
      for (const maxBindingBytes of [undefined, 65536]) {
        const layer = Q5KLinear.create(
          device,
          blob,
          withInternals({
            n,
            k,
            bias,
            variant,
            activations: "int8",
            maxBindingBytes,
          }),
        );
        assert.equal(layer.activations, "int8");
        const c = compareNmse(await layer.run(x, m), ref, 5e-4);
        const label = `m=${m} ${variant} binding=${maxBindingBytes}`;
        assert.ok(c.ok, `${label}: ${c.detail}`);
        assert.ok(c.nmse > 1e-9, `${label}: NMSE ${c.nmse} too exact for 8-bit activations`);
        layer.destroy();
      }
    }
  }
});

Deno.test("int8 activations: the three kernels agree to f32 rounding (same quantized activations, exact integer sums)", async () => {
  const [n, k] = [260, 768];
  const blob = makeQ5KBlob(n, k, { seed: 23, mode: "edge" });
  const bias = uniformF32(n, 24, -1, 1);
  const layers = (["matvec", "rowlane", "tiled"] as const).map((variant) =>
    Q5KLinear.create(device, blob, { n, k, bias, variant, activations: "int8" })
  );
  for (const m of [1, 3, 9, 17, 40]) {
    const x = uniformF32(m * k, 60 + m, -2, 2);
    const [matvec, ...others] = await Promise.all(layers.map((l) => l.run(x, m)));
    for (const [i, got] of others.entries()) {
      const c = compareNmse(got, matvec, 1e-12);
      assert.ok(c.ok, `m=${m} ${layers[i + 1].variant} against matvec: ${c.detail}`);
    }
  }
  for (const l of layers) l.destroy();
});

Deno.test("Q5KLinear mat-vec handles rows of 3 blocks (K = 768) at every M", async () => {
  const [n, k] = [33, 768];
  const blob = makeQ5KBlob(n, k, { seed: 40, mode: "edge" });
  const layer = Q5KLinear.create(device, blob, { n, k, variant: "matvec" });
  for (const m of [1, 2, 3, 4, 8]) {
    const x = uniformF32(m * k, 41 + m);
    const c = compareNmse(await layer.run(x, m), reference(blob, x, m, n, k), 1e-10);
    assert.ok(c.ok, `m=${m}: ${c.detail}`);
  }
  layer.destroy();
});

Deno.test("Q5KLinear.record puts several layers in one pass, each matching the reference", async () => {
  const [n, k] = [96, 512];
  const blob = makeQ5KBlob(n, k, { seed: 50, mode: "quantized" });
  const ref = dequantizeQ5K(blob);
  const cases = [
    { m: 3, opts: {} },
    { m: 2, opts: { activations: "int8" } },
    { m: 40, opts: { variant: "tiled" } },
  ] as const;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  const layers = cases.map((c) => Q5KLinear.create(device, blob, { n, k, ...c.opts }));
  const xs = cases.map((c, i) => uniformF32(c.m * k, 51 + i));
  const xb = xs.map((x) => uploadStorage(device, "test x", x));
  const yb = cases.map((c) => device.createBuffer({ size: c.m * n * 4, usage }));
  device.pushErrorScope("validation");
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  cases.forEach((c, i) => layers[i].record(pass, xb[i], yb[i], c.m));
  pass.end();
  device.queue.submit([encoder.finish()]);
  assert.equal(await device.popErrorScope(), null);
  for (const [i, c] of cases.entries()) {
    const got = new Float32Array(await readBack(device, yb[i], c.m * n * 4));
    const bound = i === 1 ? 5e-4 : 1e-10;
    const cmp = compareNmse(got, referenceLinear(xs[i], ref, c.m, n, k), bound);
    assert.ok(cmp.ok, `case ${i}: ${cmp.detail}`);
  }
  for (const b of [...xb, ...yb]) b.destroy();
  for (const l of layers) l.destroy();
});

Deno.test("Q5KLinear scratch that grows keeps work recorded earlier in the same encoder valid", async () => {
  // int8 activations and split-K both size scratch by M; a larger M recorded
  // second must not free the buffers the first dispatch still uses.
  const [n, k] = [64, 4096];
  const blob = makeQ5KBlob(n, k, { seed: 60 });
  const ref = dequantizeQ5K(blob);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  for (const opts of [{ activations: "int8" }, { variant: "tiled" }] as const) {
    const layer = Q5KLinear.create(device, blob, { n, k, ...opts });
    const ms = [1, 8, 3];
    const xs = ms.map((m, i) => uniformF32(m * k, 61 + i));
    const xb = xs.map((x) => uploadStorage(device, "test x", x));
    const yb = ms.map((m) => device.createBuffer({ size: m * n * 4, usage }));
    device.pushErrorScope("validation");
    const encoder = device.createCommandEncoder();
    ms.forEach((m, i) => layer.encode(encoder, xb[i], yb[i], m));
    device.queue.submit([encoder.finish()]);
    assert.equal(await device.popErrorScope(), null, JSON.stringify(opts));
    for (const [i, m] of ms.entries()) {
      const got = new Float32Array(await readBack(device, yb[i], m * n * 4));
      const bound = opts.activations === "int8" ? 5e-4 : 1e-10;
      const c = compareNmse(got, referenceLinear(xs[i], ref, m, n, k), bound);
      assert.ok(c.ok, `${JSON.stringify(opts)} m=${m}: ${c.detail}`);
    }
    for (const b of [...xb, ...yb]) b.destroy();
    layer.destroy();
  }
});

Deno.test("Q5KLinear.encode and record reject wrong encoders, passes and buffers, and keep working", async () => {
  const [n, k] = [16, 256];
  const blob = makeQ5KBlob(n, k, { seed: 70 });
  const layer = Q5KLinear.create(device, blob, { n, k });
  const buf = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
  const encoder = device.createCommandEncoder();
  assert.throws(
    () => layer.encode({} as never, buf, buf, 1),
    TypeError,
    "encoder must be a GPUCommandEncoder, current value is [object Object]",
  );
  assert.throws(
    () => layer.record(encoder as never, buf, buf, 1),
    TypeError,
    "pass must be a GPUComputePassEncoder",
  );
  assert.throws(() => layer.encode(encoder, 5 as never, buf, 1), TypeError, "current value is 5");
  assert.throws(
    () => layer.encode(encoder, buf, { buffer: buf, offset: "0" } as never, 1),
    TypeError,
    "y must be a GPUBuffer or { buffer, offset?, size? }",
  );
  buf.destroy();
  const x = uniformF32(k, 71);
  const c = compareNmse(await layer.run(x, 1), reference(blob, x, 1, n, k), 1e-10);
  assert.ok(c.ok, c.detail);
  layer.destroy();
});

Deno.test("Q5KLinear split-K at a block count the slices do not divide, after a larger M on the same layer", async () => {
  // K = 14336 (56 blocks) and N = 64: one N tile, so K is split; slices of
  // equal length cover fewer than 16 slices. A larger M first leaves its
  // partial sums in the scratch buffer the smaller M then reuses.
  const [n, k] = [64, 14336];
  const blob = makeQ5KBlob(n, k, { seed: 60, mode: "quantized" });
  for (const activations of ["f32", "int8"] as const) {
    const layer = Q5KLinear.create(device, blob, { n, k, variant: "tiled", activations });
    for (const m of [40, 20, 3]) {
      const x = uniformF32(m * k, 61 + m);
      const bound = activations === "f32" ? 1e-10 : 5e-4;
      const c = compareNmse(await layer.run(x, m), reference(blob, x, m, n, k), bound);
      assert.ok(c.ok, `${activations} m=${m}: ${c.detail}`);
    }
    layer.destroy();
  }
});

Deno.test("Q5KLinear lane-per-row: every column group size, several column groups, split-K and a ragged last row group", async () => {
  // N = 520: two 512-row groups at 256 lanes (the second holds 8 rows);
  // K = 2048 splits into slices of whole blocks; M = 40 and 70 walk 2 and 3
  // column groups of 32.
  const [n, k] = [520, 2048];
  const blob = makeQ5KBlob(n, k, { seed: 70, mode: "random" });
  const layer = Q5KLinear.create(device, blob, { n, k, variant: "rowlane" });
  for (const m of [70, 1, 2, 3, 7, 9, 16, 31, 40]) {
    const x = uniformF32(m * k, 71 + m);
    const c = compareNmse(await layer.run(x, m), reference(blob, x, m, n, k), 1e-10);
    assert.ok(c.ok, `m=${m}: ${c.detail}`);
  }
  layer.destroy();
});

Deno.test("Q5KLinear's K-major tiled form on transposed activations: bias, split-K, chunks, M not a multiple of 4, 64-row tiles, scratch reuse", async () => {
  for (
    // Chunks of 128 rows (y a vec4 at a time) and of 66 (y a float at a time).
    const [n, k, maxBindingBytes] of [[200, 768, undefined], [64, 14336, undefined], [
      384,
      512,
      128 * 2 * 176,
    ], [130, 512, 66 * 2 * 176]] as const
  ) {
    const blob = makeQ5KBlob(n, k, { seed: n + k, mode: "quantized" });
    const bias = uniformF32(n, n, -3, 3);
    const layer = Q5KLinear.create(
      device,
      blob,
      withInternals({
        n,
        k,
        bias,
        variant: "tiled",
        transposedTiled: true,
        maxBindingBytes,
      }),
    );
    // M ≤ 64 runs 64-row tiles (tileFor), K-major as well.
    for (const m of [130, 97, 65, 64, 33]) {
      const x = uniformF32(m * k, m + n);
      const want = reference(blob, x, m, n, k);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want[i * n + j] += bias[j];
      const c = compareNmse(await layer.run(x, m), want, 1e-10);
      assert.ok(c.ok, `n=${n} k=${k} m=${m}: ${c.detail}`);
    }
    layer.destroy();
  }
  // 256-row tiles from M = 129 where they pad M no further (as on NVIDIA, where
  // 48 KiB are given; lavapipe reports 32 KiB but runs them): partial tiles, a
  // split, y as vec4s; 300 runs three 128-row tiles.
  const tall = runs48KiBTiles(device)
    ? [[200, 768, [511, 300, 200, 128]], [256, 4096, [200, 129]]] as const
    : [];
  for (const [n, k, ms] of tall) {
    const blob = makeQ5KBlob(n, k, { seed: n + k + 1, mode: "quantized" });
    const layer = Q5KLinear.create(
      device,
      blob,
      withInternals({
        n,
        k,
        variant: "tiled",
        transposedTiled: true,
        tallTiledFromM: 129,
      }),
    );
    for (const m of ms) {
      const x = uniformF32(m * k, m + n + 1);
      const c = compareNmse(await layer.run(x, m), reference(blob, x, m, n, k), 1e-10);
      assert.ok(c.ok, `256-row tiles n=${n} k=${k} m=${m}: ${c.detail}`);
    }
    layer.destroy();
  }
  const keys = pipelineKeys(device);
  assert.ok(keys.includes("x-transpose"), keys.join(" "));
  const outer = keys.filter((key) => key.startsWith("q5k-tiled-outer") && key.includes(":xT"));
  for (const tile of [...(tall.length ? [":m256:"] : []), ":m128:", ":m64:"]) {
    assert.ok(outer.some((key) => key.includes(tile)), `${tile} in ${outer.join(" ")}`);
  }
  assert.ok(outer.some((key) => key.endsWith(":xT:v4")), outer.join(" "));
  assert.ok(outer.some((key) => key.includes(":whole:") && key.endsWith(":xT")), outer.join(" "));
});
