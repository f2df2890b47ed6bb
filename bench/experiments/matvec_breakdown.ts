/**
 * Where the mat-vec time goes: times the default mat-vec kernel for a few M
 * next to variants of its generated WGSL with the byte → float unpacking
 * replaced by a bit-cast (`no-unpack`), with the activation loads replaced by
 * values computed from the index (`no-x-loads`), and both; plus an empty pass
 * and a one-pass streaming read of the same weight bytes. A measuring aid for
 * kernel work, not a benchmark of the library (the variants compute garbage).
 *
 * ```sh
 * deno run -A bench/experiments/matvec_breakdown.ts [NxK ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { dispatch, DispatchCache, type KernelSpec, uploadStorage } from "../../kernels/_gpu.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import { matvecConfigFor } from "../../kernels/matvec_config.ts";
import { makeQ5KBlob } from "../../kernels/make_blob.ts";
import { ceilDiv } from "../../kernels/dispatch.ts";
import { GpuTimer } from "../timing.ts";
import { ceilingKernel } from "../ceiling_kernel.ts";
import { weightCopies } from "../sweep.ts";
import { emptyKernel } from "./pass_cost.ts";

type Mutation = "none" | "no-unpack" | "no-x-loads" | "both";

/** The spec with its WGSL changed as `mutation` says (a new pipeline key). */
export function mutate(spec: KernelSpec, mutation: Mutation): KernelSpec {
  let wgsl = spec.wgsl;
  if (mutation === "no-unpack" || mutation === "both") {
    wgsl = wgsl.replace(/(?<!fn )unpack_q(_scaled)?\(/g, "cheap_unpack(") + `
fn cheap_unpack(v: u32) -> vec4<f32> { return vec4<f32>(bitcast<f32>(v & 0x3f7fffffu)); }
`;
  }
  if (mutation === "no-x-loads" || mutation === "both") {
    wgsl = wgsl.replace(
      /x\[(xb[0-9_]* \+ \d+u)\]/g,
      "bitcast<vec4<f32>>(vec4<u32>($1) & vec4<u32>(0x3f7fffffu))",
    );
    // Keep the binding alive so the bind group layout is unchanged.
    wgsl = wgsl.replace(
      "  let col0 = wid.z",
      "  if (p.m == 0xffffffffu) { y[0] = x[0].x; }\n  let col0 = wid.z",
    );
  }
  return { ...spec, wgsl, key: `${spec.key}:${mutation}` };
}

if (import.meta.main) {
  const device = await requestDevice();
  const timer = new GpuTimer(device);
  const uniforms = new DispatchCache(device, "experiment");
  const measure = { minTimeMs: 150, maxIters: 100000, warmup: 4, warmupMs: 300 };
  const subgroups = device.features.has("subgroups" as GPUFeatureName) ? 32 : 0;
  const shapes = (Deno.args.length ? Deno.args : ["14336x4096", "4096x14336"]).map((s) =>
    s.split("x").map(Number)
  );
  for (const [n, k] of shapes) {
    const blob = makeQ5KBlob(n, k, { seed: 1 });
    const copies = weightCopies(blob.byteLength, false);
    const ws = Array.from({ length: copies }, () => uploadStorage(device, "weights", blob));
    const x = uploadStorage(
      device,
      "x",
      new Float32Array(8 * k).map((_, i) => ((i * 7919) % 1000) / 1000),
    );
    const y = device.createBuffer({ size: 8 * n * 4, usage: GPUBufferUsage.STORAGE });
    const time = async (label: string, spec: KernelSpec, bind: (i: number) => GPUBuffer[]) => {
      let turn = 0;
      const t = await timer.measure((encoder, timestampWrites) => {
        const pass = encoder.beginComputePass({ timestampWrites });
        dispatch(device, pass, spec, uniforms, bind(turn++ % copies));
        pass.end();
      }, measure);
      // deno-lint-ignore no-console
      console.log(`${n}x${k}\t${label}\t${t.medianUs.toFixed(1)} µs`);
    };
    await time("empty pass", emptyKernel(1), () => [y]);
    const vec4s = Math.floor(blob.byteLength / 16);
    await time(
      "one-pass read of the weights",
      ceilingKernel(vec4s, Math.min(ceilDiv(vec4s, 256), 16384)),
      (i) => [ws[i], y],
    );
    for (const m of [1, 2, 8]) {
      const cfg = matvecConfigFor(m, k, subgroups, false, false);
      const spec = matvecKernel(cfg, {
        m,
        n,
        k,
        row0: 0,
        rows: n,
        maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      });
      for (const mutation of ["none", "no-unpack", "no-x-loads", "both"] as const) {
        await time(`M=${m} ${mutation}`, mutate(spec, mutation), (i) => [ws[i], x, y]);
      }
    }
    for (const b of [...ws, x, y]) b.destroy();
  }
  timer.destroy();
  uniforms.destroy();
}
