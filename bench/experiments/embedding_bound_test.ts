import assert from "node:assert/strict";
import { fullTest, testDevice } from "../../conformance/test_device.ts";
import { dispatch, DispatchCache, readBack, uploadStorage } from "../../kernels/_gpu.ts";
import { makeQ5KBlob } from "../../kernels/make_blob.ts";
import { dequantizeQ5K } from "../../kernels/dequantize.ts";
import { embeddingKernel } from "../../kernels/embedding_kernel.ts";
import { boundKernel, expandKernel } from "./embedding_bound.ts";

const device = await testDevice();

fullTest("the embedding bound kernels write every output vec4 of the gather's grid", async () => {
  const [rows, k, count] = [8, 512, 3];
  const blob = makeQ5KBlob(rows, k, { seed: 1 });
  const w = uploadStorage(device, "w", blob);
  const ids = uploadStorage(device, "ids", new Uint32Array([5, 0, 7]));
  const cache = new DispatchCache(device, "test");
  for (const copy of [false, true]) {
    const y = device.createBuffer({
      size: count * k * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatch(device, pass, boundKernel(copy, count, k), cache, copy ? [y, w, ids] : [y]);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const out = new Uint32Array(await readBack(device, y, count * k * 4));
    // Every vec4 written: the write-only kernel's fourth lane is 1.0, the copy's
    // second word is a block's qh word (masked), never all four zero here.
    for (let v = 0; v < out.length / 4; v++) {
      const lanes = out.subarray(4 * v, 4 * v + 4);
      if (!copy) assert.equal(new Float32Array(lanes.slice().buffer)[3], 1, `vec4 ${v}`);
      else assert.ok(lanes.some((x) => x !== 0), `copy vec4 ${v}`);
    }
    y.destroy();
  }
  for (const b of [w, ids]) b.destroy();
  cache.destroy();
});

fullTest("the flat expand kernel writes every output vec4 from the input in order", async () => {
  const [outVec4, inVec4] = [1000, 170];
  const input = new Uint32Array(inVec4 * 4).map((_, i) => i + 1);
  const w = uploadStorage(device, "w", input);
  const cache = new DispatchCache(device, "test");
  for (const groups of [null, 2]) {
    const y = device.createBuffer({
      size: outVec4 * 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatch(device, pass, expandKernel(outVec4, inVec4, groups), cache, [y, w]);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const out = new Uint32Array(await readBack(device, y, outVec4 * 16));
    let last = 0;
    for (let v = 0; v < outVec4; v++) {
      const j = (out[4 * v] - 1) / 4; // the input vec4 this one came from
      assert.ok(Number.isInteger(j) && j >= last && j < inVec4, `vec4 ${v} from ${j}`);
      last = j;
    }
    assert.equal(last, inVec4 - 1, `groups=${groups}: every input vec4 reached`);
    y.destroy();
  }
  w.destroy();
  cache.destroy();
});

fullTest(
  "every form of the gather the experiment times matches dequantizeQ5K bit for bit",
  async () => {
    // 20 blocks a row: the last workgroup of 8 or 16 blocks is partly past the row.
    const [rows, k] = [9, 20 * 256];
    const blob = makeQ5KBlob(rows, k, { seed: 5, mode: "edge" });
    const all = dequantizeQ5K(blob);
    const list = [8, 0, 3, 3, 9, 0xffffffff, 1, 7, 2, 5];
    const ids = uploadStorage(device, "ids", Uint32Array.from(list));
    const w = uploadStorage(device, "w", blob);
    const cache = new DispatchCache(device, "test");
    const shape = { count: list.length, k, row0: 0, rows, tableRows: rows };
    const forms = [
      { staged: false },
      ...([1, 2, 4] as const).map((idsPerGroup) => ({ staged: true, idsPerGroup })),
    ];
    for (const form of forms) {
      for (const blocksPerGroup of [4, 8, 16] as const) {
        // 10 ids in groups of 1, 2 or 4 (the last of 4 half empty); 10 and 5
        // groups are folded into y and z, with unused slots.
        const spec = embeddingKernel({ ...shape, maxWorkgroupsPerDimension: 4 }, {
          blocksPerGroup,
          ...form,
        });
        const y = device.createBuffer({
          size: list.length * k * 4,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
        });
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        dispatch(device, pass, spec, cache, [w, ids, y]);
        pass.end();
        device.queue.submit([encoder.finish()]);
        const got = new Float32Array(await readBack(device, y, list.length * k * 4));
        for (const [i, id] of list.entries()) {
          const want = id < rows ? all.subarray(id * k, (id + 1) * k) : new Float32Array(k);
          assert.deepEqual(got.subarray(i * k, (i + 1) * k), want, `${spec.name}, id ${id}`);
        }
        y.destroy();
      }
    }
    for (const b of [w, ids]) b.destroy();
    cache.destroy();
  },
);
