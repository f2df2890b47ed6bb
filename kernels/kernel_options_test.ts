// The kernel options only the experiments use (bench/experiments/): the
// double-buffered tiled kernel and the embedding gather of several ids a
// thread must stay correct, since their timings are quoted.

import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { dispatch, DispatchCache, type KernelSpec, readBack, uploadStorage } from "./_gpu.ts";
import { splitReduceKernel, tiledKernel } from "./tiled_kernel.ts";
import { embeddingKernel } from "./embedding_kernel.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { uniformF32 } from "./_rng.ts";
import { compareNmse, referenceLinear } from "../conformance/compare.ts";

const device = await testDevice();

async function run(
  specs: KernelSpec[],
  bindings: GPUBuffer[][],
  out: GPUBuffer,
  bytes: number,
): Promise<ArrayBuffer> {
  const cache = new DispatchCache(device, "test");
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  specs.forEach((spec, i) => dispatch(device, pass, spec, cache, bindings[i]));
  pass.end();
  const result = await readBack(device, out, bytes, 0, encoder);
  cache.destroy();
  return result;
}

Deno.test("the double-buffered tiled kernel matches the f64 reference, whole and split-K", async () => {
  const cases = [
    { m: 40, n: 256, k: 1024, splits: 1, tm: 64, tn: 128, padded: true },
    { m: 130, n: 300, k: 2048, splits: 2, tm: 128, tn: 128, padded: true },
    { m: 5, n: 128, k: 768, splits: 3, tm: 16, tn: 64, padded: false },
  ] as const;
  for (const { m, n, k, splits, tm, tn, padded } of cases) {
    const blob = makeQ5KBlob(n, k, { seed: 80 + m });
    const xs = uniformF32(m * k, 81 + m);
    const w = uploadStorage(device, "w", blob);
    const x = uploadStorage(device, "x", xs);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    const y = device.createBuffer({ size: m * n * 4, usage });
    const part = device.createBuffer({ size: splits * m * n * 4, usage });
    const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension: 65535, splits };
    const split = splits > 1;
    const cfg = { tm, tn, padded, bias: false, split, doubleBuffer: true };
    const specs = [tiledKernel(cfg, shape)];
    const bindings = [[w, x, split ? part : y]];
    if (split) {
      specs.push(splitReduceKernel(m, n, splits, false, 65535));
      bindings.push([part, y]);
    }
    const got = new Float32Array(await run(specs, bindings, y, m * n * 4));
    const c = compareNmse(got, referenceLinear(xs, dequantizeQ5K(blob), m, n, k), 1e-10);
    assert.ok(c.ok, `m=${m} n=${n} k=${k} splits=${splits}: ${c.detail}`);
    for (const b of [w, x, y, part]) b.destroy();
  }
});

Deno.test("the embedding gather of 2 or 4 ids a thread, or looping over ids, is bit-identical, ragged counts and bad ids included", async () => {
  const [rows, k] = [30, 768];
  const blob = makeQ5KBlob(rows, k, { seed: 90, mode: "edge" });
  const all = dequantizeQ5K(blob);
  const table = uploadStorage(device, "table", blob);
  const forms = [{ idsPerThread: 2 }, { idsPerThread: 4 }, { idGroups: 2 }, {
    idGroups: 1,
  }] as const;
  for (const form of forms) {
    for (const ids of [[29, 0, 7], [3, 1000, 3, 12, 29], [5]]) {
      const idBuffer = uploadStorage(device, "ids", Uint32Array.from(ids));
      const bytes = ids.length * k * 4;
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const y = device.createBuffer({ size: bytes, usage });
      device.queue.writeBuffer(y, 0, new Float32Array(ids.length * k).fill(7));
      const spec = embeddingKernel({
        count: ids.length,
        k,
        row0: 0,
        rows,
        tableRows: rows,
        maxWorkgroupsPerDimension: 65535,
        ...form,
      });
      const got = new Float32Array(await run([spec], [[table, idBuffer, y]], y, bytes));
      const want = new Float32Array(ids.length * k);
      ids.forEach((id, i) => id < rows && want.set(all.subarray(id * k, (id + 1) * k), i * k));
      assert.deepEqual(got, want, `${JSON.stringify(form)}, ids ${ids}`);
      idBuffer.destroy();
      y.destroy();
    }
  }
  table.destroy();
});
