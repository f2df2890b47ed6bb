/**
 * What bounds the embedding gather: the library's gather of 4096 random ids
 * from a 128256×4096 Q5_K table, one pass per op, next to kernels with the
 * same grid that only write the output (`write only`), that read the same
 * words and write them undecoded (`copy`), a flat streaming copy of the
 * same byte counts (`flat expand`, the easiest pattern for those bytes) and
 * an empty pass, and the gather's other forms (`EmbeddingConfig`: 4, 8 or 16
 * blocks a workgroup, words staged through workgroup memory or not, 1, 2 or
 * 4 ids a workgroup). (The gather
 * of several ids a thread and as a loop over ids were timed here at
 * fcba5d5 and 0ace920; bench/experiments/README.md "Tried and not kept".) Prints µs and the
 * bytes-moved rate. A measuring aid for kernel work, not a benchmark of the
 * library (the comparison kernels compute garbage).
 *
 * ```sh
 * deno run -A bench/experiments/embedding_bound.ts [ids,ids,...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { dispatch, DispatchCache, type KernelSpec, uploadStorage } from "../../kernels/_gpu.ts";
import { Q5KEmbedding } from "../../kernels/embedding.ts";
import { embeddingKernel } from "../../kernels/embedding_kernel.ts";
import { makeQ5KBlob } from "../../kernels/make_blob.ts";
import { mulberry32 } from "../../kernels/_rng.ts";
import { GpuTimer } from "../timing.ts";
import { intList } from "../../cli/args.ts";
import { emptyKernel } from "./pass_cost.ts";

/**
 * A kernel over the gather's grid (one workgroup per id and 16 super-blocks,
 * 16 threads per block, four vec4 stores each) that writes the output without
 * reading the table (`copy` false) or stores the block words it reads
 * undecoded (`copy` true).
 */
export function boundKernel(copy: boolean, count: number, k: number): KernelSpec {
  const nb = k / 256;
  return {
    name: copy ? "copy" : "write only",
    key: `experiment-embedding-${copy ? "copy" : "write"}`,
    wgsl: /* wgsl */ `
struct P { count: u32, k: u32, nb: u32, _a: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
${
      copy
        ? `@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;`
        : ""
    }
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.y;
  let b = wid.x * 16u + lid / 16u;
  if (i >= p.count || b >= p.nb) { return; }
  let t = lid % 16u;
  let l4 = t % 8u;
  let out = i * (p.k / 4u) + b * 64u + t;
${
      copy
        ? `  let base = (ids[i] * p.nb + b) * 44u;
  let hd = w[base];
  let s0 = w[base + 1u];
  let qh = w[base + 4u + l4];
  for (var s = 0u; s < 4u; s++) {
    let qs = w[base + 12u + 8u * s + l4];
    y[out + 16u * s] = bitcast<vec4<f32>>(vec4<u32>(qs, qh, hd, s0) & vec4<u32>(0x3f7fffffu));
  }`
        : `  for (var s = 0u; s < 4u; s++) { y[out + 16u * s] = vec4<f32>(f32(t), f32(s), 0.0, 1.0); }`
    }
}`,
    workgroups: [Math.ceil(nb / 16), count, 1],
    uniforms: new Uint32Array([count, k, nb, 0]),
  };
}

/**
 * The same bytes as the gather with the easiest pattern there is: `outVec4`
 * vec4s written in order and `inVec4` read in order (write v reads vec4
 * ⌊v·in/out⌋, so each is fetched from memory once), as one thread per
 * output vec4 (`groups` null) or as a grid-stride loop over `groups`
 * workgroups. What a gather of this size could take at best in one pass.
 */
export function expandKernel(outVec4: number, inVec4: number, groups: number | null): KernelSpec {
  const grid = groups ?? Math.ceil(outVec4 / 256);
  return {
    name: groups ? `flat expand, grid-stride over ${groups} workgroups` : "flat expand",
    key: `experiment-embedding-expand-${groups ?? "all"}`,
    wgsl: /* wgsl */ `
struct P { out: u32, inv: u32, stride: u32, _a: u32, ratio: f32, _b: u32, _c: u32, _d: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  for (var i = g.x; i < p.out; i += p.stride) {
    let v = w[min(u32(f32(i) * p.ratio), p.inv - 1u)];
    y[i] = bitcast<vec4<f32>>(v & vec4<u32>(0x3f7fffffu));
  }
}`,
    workgroups: [grid, 1, 1],
    uniforms: new Uint32Array([
      outVec4,
      inVec4,
      grid * 256,
      0,
      new Uint32Array(new Float32Array([inVec4 / outVec4]).buffer)[0],
      0,
      0,
      0,
    ]),
  };
}

if (import.meta.main) {
  const device = await requestDevice();
  const timer = new GpuTimer(device);
  const cache = new DispatchCache(device, "experiment");
  const measure = { minTimeMs: 300, maxIters: 100000, warmup: 4, warmupMs: 300 };
  const k = 4096;
  const counts = intList("ids", Deno.args[0] ?? "4096");
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const rows = Math.min(128256, Math.floor(limit / ((k / 256) * 176)));
  const blob = makeQ5KBlob(rows, k, { seed: 2 });
  const table = Q5KEmbedding.create(device, blob, { rows, k });
  const w = uploadStorage(device, "table", blob);
  for (const count of counts) {
    // The bench's ids: uniformly random rows, each read from memory, not L2.
    const rand = mulberry32(7);
    const ids = Uint32Array.from({ length: count }, () => Math.floor(rand() * rows));
    const idBuffer = uploadStorage(device, "ids", ids);
    const y = device.createBuffer({
      size: count * k * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    const moved = count * ((k / 256) * 176 + 4 + k * 4);
    // `reps` dispatches in one pass, the time divided by them (how a model step runs).
    const time = async (
      label: string,
      bytes: number,
      spec: KernelSpec | null,
      bind: GPUBuffer[],
      reps = 1,
    ) => {
      const t = await timer.measure((encoder, timestampWrites) => {
        if (!spec) return table.encode(encoder, idBuffer, y, count, timestampWrites);
        const pass = encoder.beginComputePass({ timestampWrites });
        for (let i = 0; i < reps; i++) dispatch(device, pass, spec, cache, bind);
        pass.end();
      }, measure);
      const us = t.medianUs / reps;
      const rate = bytes ? `\t${(bytes / us / 1e3).toFixed(0)} GB/s` : "";
      const where = reps > 1 ? `, ${reps} in one pass` : "";
      // deno-lint-ignore no-console
      console.log(`${rows}x${k} ids=${count}\t${label}${where}\t${us.toFixed(1)} µs${rate}`);
    };
    await time("empty pass", 0, emptyKernel(1), [y]);
    await time("write only", count * k * 4, boundKernel(false, count, k), [y]);
    await time("copy (read the block words, store undecoded)", moved, boundKernel(true, count, k), [
      y,
      w,
      idBuffer,
    ]);
    await time("gather (the library)", moved, null, []);
    const shape = {
      count,
      k,
      row0: 0,
      rows,
      tableRows: rows,
      maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    };
    const forms = [
      ...([16, 8, 4] as const).map((blocksPerGroup) => ({ blocksPerGroup, staged: false })),
      ...([16, 8, 4] as const).map((blocksPerGroup) => ({ blocksPerGroup, staged: true })),
      { blocksPerGroup: 16, staged: true, idsPerGroup: 2 },
      { blocksPerGroup: 16, staged: true, idsPerGroup: 4 },
      { blocksPerGroup: 8, staged: true, idsPerGroup: 2 },
    ] as const;
    for (const reps of [1, 8]) {
      for (const form of forms) {
        const spec = embeddingKernel(shape, form);
        await time(`gather: ${spec.name}`, moved, spec, [w, idBuffer, y], reps);
      }
    }
    const outVec4 = (count * k) / 4;
    const inVec4 = (count * (k / 256) * 176) / 16;
    for (const groups of [null, 132 * 8, 132 * 16, 132 * 32]) {
      const spec = expandKernel(outVec4, inVec4, groups);
      await time(spec.name, moved, spec, [y, w]);
    }
    for (const b of [idBuffer, y]) b.destroy();
  }
  w.destroy();
  table.destroy();
  timer.destroy();
  cache.destroy();
}
