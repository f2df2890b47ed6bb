/**
 * How many 256-thread workgroups an SM runs at once, and what limits it:
 * workgroup memory or registers. Each probe kernel declares S bytes of
 * workgroup memory (written once, read once) and keeps C f32 values live
 * through a loop of C dependent scalar FMAs an iteration (one serial chain,
 * so a warp issues one FMA per FMA latency and 8 warps fill half an SM's
 * issue slots: a second workgroup beside it costs nothing), and is timed over
 * 132, 264 and 528 workgroups doing the same work each. Time that stays flat
 * from 132 to 264 workgroups means two fit an SM of the 132; time that
 * doubles means one. Then prints the ratios. On the H200 (README.md here,
 * "Tried and not kept in this release") they never fell to 1: read them
 * against each other (1.5–1.7 against 1.84–1.89 there), not as counts. A
 * measuring aid for the tiled kernel's one-workgroup-an-SM bound (README.md
 * here, "Where the time goes"), not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/occupancy.ts
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { dispatch, DispatchCache, type KernelSpec } from "../../kernels/_gpu.ts";
import { GpuTimer } from "../timing.ts";

/**
 * A probe kernel: `bytes` of workgroup memory (a multiple of 16; 0 for none),
 * `live` f32 values in one chain of dependent FMAs, `iters` iterations, over
 * `groups` workgroups of 256 threads.
 */
export function occupancyKernel(
  bytes: number,
  live: number,
  iters: number,
  groups: number,
): KernelSpec {
  if (bytes % 16 !== 0 || bytes < 0) {
    throw new RangeError(`bytes ${bytes} must be a multiple of 16`);
  }
  if (!Number.isInteger(live) || live < 1) throw new RangeError(`live ${live} must be ≥ 1`);
  const v = bytes / 16;
  const cs = Array.from({ length: live }, (_, i) => `c${i}`);
  // c(i) takes c(i-1) as its multiplier: the C FMAs of an iteration run one after another.
  const step = cs.map((c, i) => `${c} = fma(${c}, ${i ? cs[i - 1] : cs[live - 1]}, b);`);
  const sum = Array.from({ length: Math.ceil(live / 4) }, (_, q) => {
    const four = cs.slice(4 * q, 4 * q + 4);
    while (four.length < 4) four.push("0.0");
    return `vec4<f32>(${four.join(", ")})`;
  });
  const shared = v
    ? {
      decl: `var<workgroup> sm: array<vec4<f32>, ${v}>;`,
      fill: `  for (var i = lid; i < ${v}u; i += 256u) { sm[i] = vec4<f32>(s + f32(i)); }
  workgroupBarrier();`,
      read: ` + sm[(lid * 7u + p.b) % ${v}u]`,
    }
    : { decl: "", fill: "", read: "" };
  return {
    name: `occupancy ${bytes / 1024} KiB, ${live} f32 live, ${groups} workgroups`,
    key: `experiment-occupancy-${bytes}-${live}-${iters}-${groups}`,
    wgsl: `struct P { a: u32, b: u32, c: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${shared.decl}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = f32(g.x ^ p.b) * 1e-9;
${shared.fill}
${cs.map((c, i) => `  var ${c} = s + ${(1 - i * 1e-3).toFixed(4)};`).join("\n")}
  let b = 1e-3 * f32(1u + p.c);
  for (var i = 0u; i < ${iters}u; i++) {
${step.map((l) => `    ${l}`).join("\n")}
  }
  let t = ${sum.join(" + ")}${shared.read};
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
  const y = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
  const measure = { minTimeMs: 100, maxIters: 100000, warmup: 4, warmupMs: 200 };
  const limit = device.limits.maxComputeWorkgroupStorageSize;
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  log(`workgroup memory limit ${limit} bytes`);
  for (const live of [16, 64, 96, 128, 160]) {
    for (const kib of [0, 16, 24, 28, 30, 31, 32, 48]) {
      if (kib * 1024 > limit) continue;
      const us: number[] = [];
      for (const groups of [132, 264, 528]) {
        const spec = occupancyKernel(kib * 1024, live, Math.round(16384 / live), groups);
        const t = await timer.measure((encoder, timestampWrites) => {
          const pass = encoder.beginComputePass({ timestampWrites });
          dispatch(device, pass, spec, cache, [y]);
          pass.end();
        }, measure);
        us.push(t.medianUs);
      }
      log(
        `${live} f32 live\t${kib} KiB\t${us.map((u) => u.toFixed(1)).join(" / ")} µs\t` +
          `264/132 ${(us[1] / us[0]).toFixed(2)}\t528/132 ${(us[2] / us[0]).toFixed(2)}`,
      );
    }
  }
  y.destroy();
  timer.destroy();
  cache.destroy();
}
