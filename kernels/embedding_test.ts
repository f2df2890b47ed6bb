import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { Q5KEmbedding, tableWithInternals } from "./embedding.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { readBack } from "./_gpu.ts";

const device = await testDevice();

function expectedRows(table: Uint8Array, k: number, ids: ArrayLike<number>): Float32Array {
  const all = dequantizeQ5K(table);
  const out = new Float32Array(ids.length * k);
  for (let i = 0; i < ids.length; i++) out.set(all.subarray(ids[i] * k, (ids[i] + 1) * k), i * k);
  return out;
}

Deno.test("Q5KEmbedding gathers rows bit-identical to dequantizeQ5K for every id type", async () => {
  const [rows, k] = [40, 768];
  const blob = makeQ5KBlob(rows, k, { seed: 3, mode: "edge" });
  const table = Q5KEmbedding.create(device, blob, { rows, k });
  const ids = [39, 0, 7, 7, 20];
  const want = expectedRows(blob, k, ids);
  for (const form of [ids, Int32Array.from(ids), Uint32Array.from(ids)]) {
    assert.deepEqual(await table.lookup(form), want);
  }
  table.destroy();
});

Deno.test("Q5KEmbedding works across several bindings when one is too small", async () => {
  const [rows, k] = [200, 1024];
  const blob = makeQ5KBlob(rows, k, { seed: 4 });
  const table = Q5KEmbedding.create(
    device,
    blob,
    tableWithInternals({ rows, k, maxBindingBytes: 32768 }),
  );
  const ids = [199, 0, 45, 46, 100, 150, 3];
  assert.deepEqual(await table.lookup(ids), expectedRows(blob, k, ids));
  table.destroy();
});

Deno.test("Q5KEmbedding.encode() writes zeros for out-of-range GPU ids and never reads past the table", async () => {
  const [rows, k] = [30, 512];
  const blob = makeQ5KBlob(rows, k, { seed: 9 });
  // Two chunks, so the zeros must come from exactly one dispatch.
  const table = Q5KEmbedding.create(
    device,
    blob,
    tableWithInternals({ rows, k, maxBindingBytes: 16 * 352 }),
  );
  const ids = Uint32Array.of(29, 30, 0, 0xffffffff, 15);
  const idBuf = device.createBuffer({
    size: 32,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(idBuf, 0, ids);
  const y = device.createBuffer({
    size: ids.length * k * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(y, 0, new Float32Array(ids.length * k).fill(7));
  const encoder = device.createCommandEncoder();
  table.encode(encoder, idBuf, y, ids.length);
  const got = new Float32Array(await readBack(device, y, ids.length * k * 4, 0, encoder));
  const all = dequantizeQ5K(blob);
  for (const [i, id] of ids.entries()) {
    const row = got.subarray(i * k, (i + 1) * k);
    if (id < rows) assert.deepEqual(row, all.subarray(id * k, (id + 1) * k), `id ${id}`);
    else assert.ok(row.every((v) => v === 0), `id ${id} gives zeros`);
  }
  idBuf.destroy();
  y.destroy();
  table.destroy();
});

Deno.test("Q5KEmbedding rejects bad ids and shapes before dispatching, and keeps working", async () => {
  const [rows, k] = [10, 256];
  const blob = makeQ5KBlob(rows, k, { seed: 6 });
  assert.throws(
    () => Q5KEmbedding.create(device, blob, { rows, k: 100 }),
    RangeError,
    "current value is 100",
  );
  assert.throws(
    () => Q5KEmbedding.create(device, blob, { rows: 11, k }),
    RangeError,
    "current value is 1760",
  );
  assert.throws(() => Q5KEmbedding.create(device, blob, { rows: -1, k }), RangeError, "-1");
  assert.throws(() => Q5KEmbedding.create(device, "x" as never, { rows, k }), TypeError, '"x"');
  const table = Q5KEmbedding.create(device, blob, { rows, k });
  await assert.rejects(
    table.lookup([10]),
    RangeError,
    "ids must be integers in 0..9, current value at index 0 is 10",
  );
  await assert.rejects(table.lookup([1, -1]), RangeError, "index 1 is -1");
  await assert.rejects(table.lookup([0.5]), RangeError, "0.5");
  await assert.rejects(table.lookup([]), RangeError, "empty");
  await assert.rejects(table.lookup(["1"] as never), TypeError, '"1"');
  await assert.rejects(table.lookup(new Float32Array(2) as never), TypeError, "Float32Array");
  await assert.rejects(table.lookup(Int32Array.of(3, 2147483647)), RangeError, "2147483647");
  const tooMany = Math.floor(device.limits.maxStorageBufferBindingSize / (k * 4)) + 1;
  const ids = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
  assert.throws(
    () => table.encode(device.createCommandEncoder(), ids, ids, tooMany),
    RangeError,
    `current value is ${tooMany * k * 4}`,
  );
  const encoder = device.createCommandEncoder();
  assert.throws(
    () => table.encode("enc" as never, ids, ids, 1),
    TypeError,
    'encoder must be a GPUCommandEncoder, current value is "enc"',
  );
  assert.throws(
    () => table.record(encoder as never, ids, ids, 1),
    TypeError,
    "pass must be a GPUComputePassEncoder",
  );
  assert.throws(() => table.encode(encoder, null as never, ids, 1), TypeError, "ids must be");
  assert.throws(() => table.encode(encoder, ids, ids, 0), RangeError, "current value is 0");
  ids.destroy();
  assert.deepEqual(await table.lookup([9, 1]), expectedRows(blob, k, [9, 1]));
  table.destroy();
  await assert.rejects(table.lookup([1]), TypeError, "destroyed");
});

Deno.test("Q5KEmbedding.record shares a pass with other work", async () => {
  const [rows, k] = [50, 512];
  const blob = makeQ5KBlob(rows, k, { seed: 12, mode: "edge" });
  const table = Q5KEmbedding.create(device, blob, { rows, k });
  const lists = [Uint32Array.of(3, 49, 0), Uint32Array.of(7)];
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const idBufs = lists.map((ids) => {
    const b = device.createBuffer({ size: 16, usage });
    device.queue.writeBuffer(b, 0, ids);
    return b;
  });
  const ys = lists.map((ids) => device.createBuffer({ size: ids.length * k * 4, usage }));
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  lists.forEach((ids, i) => table.record(pass, idBufs[i], ys[i], ids.length));
  pass.end();
  device.queue.submit([encoder.finish()]);
  for (const [i, ids] of lists.entries()) {
    const got = new Float32Array(await readBack(device, ys[i], ids.length * k * 4));
    assert.deepEqual(got, expectedRows(blob, k, ids));
  }
  for (const b of [...idBufs, ...ys]) b.destroy();
  table.destroy();
});
