/**
 * Which tiled-kernel layout computes prefill fastest: the kernel's two
 * workgroup-memory layouts (`rows`: K-contiguous rows and `c += dot(a, b)`;
 * `outer`: K-major and one FMA per output per k) and `rows` with its
 * dot-then-add rewritten as an FMA chain (`rows-fma`), each for a few tile
 * shapes, timed per pass at several M; plus an FMA-only kernel for the f32
 * throughput this WebGPU stack reaches at all. Prints TFLOP/s. A measuring
 * aid for kernel work, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/tiled_layouts.ts [M ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { dispatch, DispatchCache, type KernelSpec, uploadStorage } from "../../kernels/_gpu.ts";
import {
  splitReduceKernel,
  splitsFor,
  tiledKernel,
  type TileShape,
} from "../../kernels/tiled_kernel.ts";
import { makeQ5KBlob } from "../../kernels/make_blob.ts";
import { ceilDiv } from "../../kernels/dispatch.ts";
import { GpuTimer } from "../timing.ts";
import { weightCopies } from "../sweep.ts";

/** One candidate: a label and the kernels of one product (tiled, then split-K reduce). */
export interface Candidate {
  label: string;
  specs: KernelSpec[];
  /** Bytes of split-K partial sums the candidate needs (0 without a split). */
  partBytes: number;
}

/** `c += dot(a, b)` rewritten as four chained FMAs (a new pipeline key). */
export function fmaChain(spec: KernelSpec): KernelSpec {
  const wgsl = spec.wgsl.replace(
    /(c\d+_\d+) \+= dot\((a\d+), (b\d+)\);/g,
    "$1 = fma($2.w, $3.w, fma($2.z, $3.z, fma($2.y, $3.y, fma($2.x, $3.x, $1))));",
  );
  return { ...spec, wgsl, key: `${spec.key}:fma-chain` };
}

/** The candidates for one product: each layout at the tile shapes worth trying for M. */
export function candidates(
  m: number,
  n: number,
  k: number,
  maxWorkgroupsPerDimension: number,
): Candidate[] {
  const tiles: TileShape[] = m >= 128
    ? [{ tm: 128, tn: 128 }, { tm: 128, tn: 64 }, { tm: 64, tn: 128 }]
    : [{ tm: m <= 16 ? 16 : m <= 32 ? 32 : 64, tn: 128 }];
  const out: Candidate[] = [];
  for (const tile of tiles) {
    const splits = splitsFor(ceilDiv(n, tile.tn) * ceilDiv(m, tile.tm), k / 256);
    const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension, splits };
    const reduce = splits > 1
      ? [splitReduceKernel(m, n, splits, false, maxWorkgroupsPerDimension)]
      : [];
    const cfg = { ...tile, padded: true, bias: false, split: splits > 1 };
    const rows = tiledKernel({ ...cfg, layout: "rows" }, shape);
    const outer = tiledKernel({ ...cfg, layout: "outer" }, shape);
    const tag = `${tile.tm}x${tile.tn}${splits > 1 ? ` split ${splits}` : ""}`;
    const partBytes = splits > 1 ? splits * m * n * 4 : 0;
    out.push(
      { label: `rows ${tag}`, specs: [rows, ...reduce], partBytes },
      { label: `rows-fma ${tag}`, specs: [fmaChain(rows), ...reduce], partBytes },
      { label: `outer ${tag}`, specs: [outer, ...reduce], partBytes },
    );
  }
  return out;
}

/** A kernel of FMAs only: 8 independent chains of `iters`·4 FMAs per thread. */
export function fmaPeakKernel(groups: number, iters: number): KernelSpec {
  return {
    name: "fma peak",
    key: `experiment-fma-peak-${iters}`,
    wgsl: `struct P { a: u32, b: u32, c: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let s = f32(g.x) * 1e-9;
  var c0 = vec4<f32>(s); var c1 = c0 + 1.0; var c2 = c0 + 2.0; var c3 = c0 + 3.0;
  var c4 = c0 + 4.0; var c5 = c0 + 5.0; var c6 = c0 + 6.0; var c7 = c0 + 7.0;
  let a = vec4<f32>(0.999, 0.998, 0.997, 0.996);
  let b = vec4<f32>(1e-3);
  for (var i = 0u; i < ${iters}u; i++) {
    c0 = fma(c0, a, b); c1 = fma(c1, a, b); c2 = fma(c2, a, b); c3 = fma(c3, a, b);
    c4 = fma(c4, a, b); c5 = fma(c5, a, b); c6 = fma(c6, a, b); c7 = fma(c7, a, b);
  }
  let t = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7;
  if (t.x + t.y + t.z + t.w == f32(p.a)) { y[0] = 1.0; }
}`,
    workgroups: [groups, 1, 1],
    uniforms: new Uint32Array([0xffffffff, 0, 0, 0]),
  };
}

if (import.meta.main) {
  const device = await requestDevice();
  const timer = new GpuTimer(device);
  const cache = new DispatchCache(device, "experiment");
  const measure = { minTimeMs: 150, maxIters: 100000, warmup: 4, warmupMs: 300 };
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  const ms = Deno.args.length ? Deno.args.map(Number) : [64, 128, 512];
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  {
    const groups = 132 * 64;
    const iters = 4096;
    const y = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    const t = await timer.measure((encoder, timestampWrites) => {
      const pass = encoder.beginComputePass({ timestampWrites });
      dispatch(device, pass, fmaPeakKernel(groups, iters), cache, [y]);
      pass.end();
    }, measure);
    const flops = groups * 256 * iters * 8 * 4 * 2;
    log(`fma peak\t${t.medianUs.toFixed(1)} µs\t${(flops / t.medianUs / 1e6).toFixed(1)} TFLOP/s`);
    y.destroy();
  }
  for (const [n, k] of [[14336, 4096], [4096, 14336]]) {
    const blob = makeQ5KBlob(n, k, { seed: 1 });
    const copies = weightCopies(blob.byteLength, false);
    const ws = Array.from({ length: copies }, () => uploadStorage(device, "weights", blob));
    const mMax = Math.max(...ms);
    const x = uploadStorage(
      device,
      "x",
      new Float32Array(mMax * k).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5),
    );
    const y = device.createBuffer({ size: mMax * n * 4, usage: GPUBufferUsage.STORAGE });
    for (const m of ms) {
      for (const c of candidates(m, n, k, maxDim)) {
        const part = c.partBytes
          ? device.createBuffer({ size: c.partBytes, usage: GPUBufferUsage.STORAGE })
          : null;
        let turn = 0;
        const t = await timer.measure((encoder, timestampWrites) => {
          const pass = encoder.beginComputePass({ timestampWrites });
          const w = ws[turn++ % copies];
          dispatch(device, pass, c.specs[0], cache, [w, x, part ?? y]);
          if (part) dispatch(device, pass, c.specs[1], cache, [part, y]);
          pass.end();
        }, measure);
        const tflops = (2 * m * n * k) / t.medianUs / 1e6;
        log(
          `${n}x${k}\tM=${m}\t${c.label}\t${t.medianUs.toFixed(1)} µs\t${
            tflops.toFixed(1)
          } TFLOP/s`,
        );
        part?.destroy();
      }
    }
    for (const b of [...ws, x, y]) b.destroy();
  }
  timer.destroy();
  cache.destroy();
}
