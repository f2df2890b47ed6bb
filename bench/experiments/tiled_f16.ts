/**
 * The opt-in f16 tiled kernel against the f32 one: each at the library's
 * tile for M and its K-split (and twice the split), both flushes of the f16
 * kernel, timed per pass at several M; plus a kernel of packed half FMAs only
 * (`vec2<f16>`), the rate the f16 path could reach at all through this stack
 * (`peak` alone: only that). Prints TFLOP/s. A measuring aid for kernel work,
 * not a benchmark of the library. Needs `shader-f16`.
 *
 * ```sh
 * deno run -A bench/experiments/tiled_f16.ts [M ... | peak]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { dispatch, DispatchCache, type KernelSpec } from "../../kernels/_gpu.ts";
import { exactSplits, splitsFor, tiledKernel, tileFor } from "../../kernels/tiled_kernel.ts";
import { tiledF16Kernel } from "../../kernels/tiled_f16_kernel.ts";
import { ceilDiv } from "../../kernels/dispatch.ts";
import { GpuTimer } from "../timing.ts";
import { sinkKernel } from "./pass_cost.ts";
import { type Candidate, splitCandidate, timeCandidates } from "./tiled_layouts.ts";
import { intList } from "../../cli/args.ts";

/**
 * A kernel of packed half FMAs only: `chains` independent `vec2<f16>` chains
 * of `iters` FMAs per thread (two multiply-adds each).
 */
export function hfma2PeakKernel(groups: number, iters: number, chains = 16): KernelSpec {
  const cs = Array.from({ length: chains }, (_, i) => i);
  const spec = sinkKernel(
    "hfma2 peak",
    `experiment-hfma2-peak-${iters}-${chains}`,
    groups,
    `  let a = vec2<f16>(0.999h, 0.998h) - vec2<f16>(f16(g.x % 7u) * 1e-3h);
  let b = vec2<f16>(1e-3h) * f16(1u + g.y);
${cs.map((i) => `  var c${i} = vec2<f16>(f16(g.x % 5u) + ${i}.0h);`).join("\n")}
  for (var i = 0u; i < ${iters}u; i++) {
${cs.map((i) => `    c${i} = fma(c${i}, a, b);`).join("\n")}
  }
  let t = vec2<f32>(${cs.map((i) => `c${i}`).join(" + ")});`,
    "t.x + t.y == f32(p.a)",
  );
  return { ...spec, wgsl: `enable f16;\n${spec.wgsl}` };
}

/** The f32 and f16 tiled kernels at the library's tile and split for M, and at twice the split. */
export function f16Candidates(m: number, n: number, k: number, maxDim: number): Candidate[] {
  const tile = tileFor(49152, m);
  const nb = k / 256;
  const base = splitsFor(ceilDiv(n, tile.tn) * ceilDiv(m, tile.tm), nb);
  const out: Candidate[] = [];
  for (const splits of [...new Set([base, exactSplits(nb, Math.min(nb, 16, 2 * base))])]) {
    const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension: maxDim, splits };
    const cfg = { ...tile, bias: false, split: splits > 1 };
    const at = { m, n, splits, maxWorkgroupsPerDimension: maxDim };
    const name = `${tile.tm}x${tile.tn} split ${splits}`;
    out.push(splitCandidate(`f32 ${name}`, tiledKernel(cfg, shape), at));
    for (const flush of ["f32", "f16"] as const) {
      const spec = tiledF16Kernel({ ...cfg, flush }, shape);
      out.push(splitCandidate(`f16 flush-${flush} ${name}`, spec, at));
    }
  }
  return out;
}

if (import.meta.main) {
  const device = await requestDevice();
  if (!device.features.has("shader-f16")) throw new Error("this device has no shader-f16");
  const peakOnly = Deno.args[0] === "peak";
  const ms = Deno.args.length && !peakOnly ? intList("M", Deno.args.join(",")) : [64, 128, 512];
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  const timer = new GpuTimer(device);
  const cache = new DispatchCache(device, "experiment");
  const measure = { minTimeMs: 150, maxIters: 100000, warmup: 4, warmupMs: 300 };
  const groups = 132 * 64;
  const iters = 4096;
  const y = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
  for (const chains of [16, 32]) {
    const t = await timer.measure((encoder, timestampWrites) => {
      const pass = encoder.beginComputePass({ timestampWrites });
      dispatch(device, pass, hfma2PeakKernel(groups, iters, chains), cache, [y]);
      pass.end();
    }, measure);
    const flops = groups * 256 * iters * chains * 2 * 2;
    log(
      `hfma2 peak, ${chains} chains\t${t.medianUs.toFixed(1)} µs\t${
        (flops / t.medianUs / 1e6).toFixed(1)
      } TFLOP/s`,
    );
  }
  y.destroy();
  timer.destroy();
  cache.destroy();
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  if (!peakOnly) await timeCandidates(device, ms, (m, n, k) => f16Candidates(m, n, k, maxDim), log);
}
