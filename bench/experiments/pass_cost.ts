/**
 * What a compute pass and a dispatch cost by themselves: an empty kernel timed
 * as one pass per dispatch and as 8 or 64 dispatches in one pass, writing the
 * same buffer (WebGPU must order them) or different ones. Prints µs of GPU
 * time per dispatch. A measuring aid, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/pass_cost.ts
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { dispatch, DispatchCache, type KernelSpec } from "../../kernels/_gpu.ts";
import { GpuTimer } from "../timing.ts";

/**
 * A kernel over `groups` workgroups of 256 that runs `body` (WGSL statements;
 * `g` is the global invocation id) and stores to y only when `condition`
 * holds, which the uniform makes impossible: the compiler must keep the work,
 * and nothing is written.
 */
export function sinkKernel(
  name: string,
  key: string,
  groups: number,
  body: string,
  condition: string,
): KernelSpec {
  return {
    name,
    key,
    wgsl: `struct P { a: u32, b: u32, c: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
${body}
  if (${condition}) { y[0] = 1.0; }
}`,
    workgroups: [groups, 1, 1],
    uniforms: new Uint32Array([0xffffffff, 0, 0, 0]),
  };
}

/** An empty kernel over `groups` workgroups that never stores (but could). */
export function emptyKernel(groups: number): KernelSpec {
  return sinkKernel("empty", `experiment-empty-${groups}`, groups, "", "g.x == p.a");
}

if (import.meta.main) {
  const device = await requestDevice();
  const timer = new GpuTimer(device);
  const uniforms = new DispatchCache(device, "experiment");
  const measure = { minTimeMs: 100, maxIters: 100000, warmup: 4, warmupMs: 300 };
  const ys = Array.from(
    { length: 64 },
    () => device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE }),
  );
  for (const groups of [1, 1000]) {
    const spec = emptyKernel(groups);
    for (const perPass of [1, 8, 64]) {
      for (const distinct of [false, true]) {
        const t = await timer.measure((encoder, timestampWrites) => {
          const pass = encoder.beginComputePass({ timestampWrites });
          for (let i = 0; i < perPass; i++) {
            dispatch(device, pass, spec, uniforms, [distinct ? ys[i] : ys[0]]);
          }
          pass.end();
        }, measure);
        // deno-lint-ignore no-console
        console.log(
          `workgroups=${groups} dispatches/pass=${perPass} ${
            distinct ? "different buffers" : "same buffer"
          }: ${(t.medianUs / perPass).toFixed(2)} µs per dispatch`,
        );
      }
    }
  }
  for (const y of ys) y.destroy();
  timer.destroy();
  uniforms.destroy();
}
