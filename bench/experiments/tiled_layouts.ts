/**
 * Which tiled-kernel variant computes prefill fastest: workgroup memory as
 * arrays of rows read at constant K offsets (`rows`, the kernel's) or K-major
 * with outer products (`outer`), with and without the register prefetch of
 * the next K-step, the K-major layout reading its activations as if
 * transposed (`xT`, timing only: the same bytes, not transposed first) with a
 * weight row's two decoding threads adjacent or TN lanes apart (`apart`), on
 * 256-row tiles and warp-specialized, at several K-splits, timed per pass at
 * several M. (The flat-array, operand-group, 128/512-thread and half-step
 * variants were measured slower and left the library in 0.2.0: their figures
 * are in docs/performance.md; the commit before, ea89321, still runs them.) First
 * the f32 throughput this WebGPU stack reaches at all: FMA-only kernels (8,
 * 16 or 32 independent vec4 chains, the loop body once or 4 times, on 1…4
 * workgroups an SM and many), the tiled kernel's 8×8 register tile with its
 * operands in registers (rows and outer forms), and `dot4I8Packed`-only
 * kernels for the int8 paths' (`peak` alone: only these). Prints TFLOP/s. A
 * measuring aid for kernel work, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/tiled_layouts.ts [M ... | peak]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { dispatch, DispatchCache, type KernelSpec, uploadStorage } from "../../kernels/_gpu.ts";
import {
  exactSplits,
  splitReduceKernel,
  splitsFor,
  splitStride,
  tiledKernel,
  tileFor,
} from "../../kernels/tiled_kernel.ts";
import { outerTileBytes } from "../../kernels/_tiled_outer.ts";
import { makeQ5KBlob } from "../../kernels/make_blob.ts";
import { ceilDiv } from "../../kernels/dispatch.ts";
import { GpuTimer } from "../timing.ts";
import { sinkKernel } from "./pass_cost.ts";
import { hasPackedDot } from "../../kernels/linear.ts";
import { intList } from "../../cli/args.ts";
import { weightCopies } from "../sweep.ts";
import { wsTiledKernel } from "./_tiled_ws.ts";

/** One candidate: a label and the kernels of one product (tiled, then split-K reduce). */
export interface Candidate {
  label: string;
  specs: KernelSpec[];
  /** Bytes of split-K partial sums the candidate needs (0 without a split). */
  partBytes: number;
}

/** K-major variants on transposed x with `extra`, with and without the register prefetch. */
function outerXT(tag: string, extra: { tall?: boolean }) {
  return [true, false].map((prefetch) => ({
    label: `outer xT ${tag}${prefetch ? "" : " no-prefetch"}`,
    prefetch,
    layout: "outer" as const,
    xT: true,
    ...extra,
  }));
}

/**
 * The kernel variants compared: workgroup memory as rows or K-major
 * (`outer`, tiles of 64 rows or more only), register prefetch.
 */
export const VARIANTS: {
  label: string;
  prefetch: boolean;
  layout: "rows" | "outer";
  xT?: boolean;
  apart?: boolean;
  /** The warp-specialized K-major kernel (128×128 tiles, 256 consumer threads and `producers`). */
  specialized?: boolean;
  producers?: 64 | 128;
  /** 256-row tiles (256×128, 16×8 outputs a thread, 48 KiB where the adapter allows it). */
  tall?: boolean;
}[] = [
  { label: "rows", prefetch: true, layout: "rows" },
  { label: "rows no-prefetch", prefetch: false, layout: "rows" },
  { label: "outer", prefetch: true, layout: "outer" },
  { label: "outer no-prefetch", prefetch: false, layout: "outer" },
  ...[false, true].flatMap((apart) =>
    [true, false].map((prefetch) => ({
      label: `outer xT${apart ? " apart" : ""}${prefetch ? "" : " no-prefetch"}`,
      prefetch,
      layout: "outer" as const,
      xT: true,
      apart,
    }))
  ),
  ...outerXT("tm256", { tall: true }),
  ...([64, 128] as const).map((producers) => ({
    label: `outer xT ws${producers === 128 ? "128" : ""}`,
    prefetch: false,
    layout: "outer" as const,
    xT: true,
    specialized: true,
    producers,
  })),
];

/** The variants that exist for a tile of `tm` rows (`outer` from 64, warp-specialized at 128). */
export function variantsFor(tm: number, workgroupBytes = 49152): typeof VARIANTS {
  return VARIANTS.filter((v) =>
    v.layout === "rows" ||
    (tm >= 64 && (!v.specialized || tm === 128) &&
      (!v.tall || (tm === 128 && workgroupBytes >= outerTileBytes(256, 128))))
  );
}

/**
 * The candidates for one product: each layout, with and without the register
 * prefetch, at the library's tile for M and its K-split, and at more splits
 * (more workgroups shorten the last, partly filled wave of a large grid).
 */
export function candidates(
  m: number,
  n: number,
  k: number,
  maxWorkgroupsPerDimension: number,
  only = "",
  workgroupBytes = 49152,
): Candidate[] {
  const libraryTile = tileFor(49152, m);
  const out: Candidate[] = [];
  const splitsOf = (tile: { tm: number; tn: number }) => {
    const base = splitsFor(ceilDiv(n, tile.tn) * ceilDiv(m, tile.tm), k / 256);
    const more = (f: number) => exactSplits(k / 256, Math.min(k / 256, 16, f * base));
    return [...new Set([base, more(2), more(4)])];
  };
  const runs = variantsFor(libraryTile.tm, workgroupBytes).filter((v) => v.label.includes(only))
    .flatMap((v) => {
      const tile = v.tall ? { ...libraryTile, tm: 256 as const } : libraryTile;
      return splitsOf(tile).map((splits) => ({ v, tile, splits }));
    });
  // Split count first.
  runs.sort((a, b) => a.splits - b.splits);
  for (const { v, tile, splits } of runs) {
    const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension, splits };
    // The variant's kernel options as they are (`tall` is its tile, above).
    const { label, tall: _tall, specialized, ...options } = v;
    const cfg = { ...tile, bias: false, split: splits > 1, ...options };
    const spec = specialized ? wsTiledKernel(cfg, shape) : tiledKernel(cfg, shape);
    out.push(
      splitCandidate(`${label} ${tile.tm}x${tile.tn} split ${splits}`, spec, {
        m,
        n,
        splits,
        maxWorkgroupsPerDimension,
        stride: splitStride(cfg, n),
      }),
    );
  }
  return out;
}

/**
 * A candidate of one kernel over `splits` K-slices, with the split-K
 * reduction and scratch it then needs (partial-sum rows `stride` apart,
 * default n).
 */
export function splitCandidate(
  label: string,
  kernel: KernelSpec,
  { m, n, splits, maxWorkgroupsPerDimension, stride = n }: {
    m: number;
    n: number;
    splits: number;
    maxWorkgroupsPerDimension: number;
    stride?: number;
  },
): Candidate {
  const split = splits > 1;
  const reduce = split
    ? [splitReduceKernel(m, n, splits, false, maxWorkgroupsPerDimension, stride)]
    : [];
  return { label, specs: [kernel, ...reduce], partBytes: split ? splits * m * stride * 4 : 0 };
}

/**
 * A kernel of FMAs only: `chains` (default 8) independent vec4 chains of
 * `iters`·4 FMAs per thread, the loop body written out `unroll` times,
 * multiplying by constants (`constant`, which the compiler may take from its
 * constant bank) or by values computed at run time (`runtime`, registers, as
 * in a real kernel).
 */
export function fmaPeakKernel(
  groups: number,
  iters: number,
  operands: "constant" | "runtime" = "constant",
  { chains = 8, unroll = 1 }: { chains?: number; unroll?: number } = {},
): KernelSpec {
  if (iters % unroll !== 0) throw new RangeError(`unroll ${unroll} must divide iters ${iters}`);
  const ab = operands === "constant"
    ? `  let a = vec4<f32>(0.999, 0.998, 0.997, 0.996);
  let b = vec4<f32>(1e-3);`
    : `  let a = vec4<f32>(0.999, 0.998, 0.997, 0.996) - vec4<f32>(f32(g.x % 7u) * 1e-7);
  let b = vec4<f32>(1e-3) * f32(1u + g.y);`;
  const cs = Array.from({ length: chains }, (_, i) => `c${i}`);
  const step = cs.map((c) => `${c} = fma(${c}, a, b);`).join(" ");
  const shape = chains === 8 && unroll === 1 ? "" : `-${chains}x${unroll}`;
  const label = shape ? `, ${chains} chains, body x${unroll}` : "";
  return sinkKernel(
    `fma peak${operands === "constant" ? "" : ", run-time operands"}${label}`,
    `experiment-fma-peak-${iters}${operands === "constant" ? "" : "-runtime"}${shape}`,
    groups,
    `  let s = f32(g.x) * 1e-9;
  var c0 = vec4<f32>(s);
${cs.slice(1).map((c, i) => `  var ${c} = c0 + ${i + 1}.0;`).join("\n")}
${ab}
  for (var i = 0u; i < ${iters / unroll}u; i++) {
${Array.from({ length: unroll }, () => `    ${step}`).join("\n")}
  }
  let t = ${cs.join(" + ")};`,
    "t.x + t.y + t.z + t.w == f32(p.a)",
  );
}

/**
 * A kernel of the tiled kernel's register tile alone: 8 activation and 8
 * weight vec4s made at run time, 64 f32 accumulators, and per iteration
 * the 256 FMAs of one K-vec4 step in the rows layout (each output's four
 * products chained) or of four k in the outer layout (vec4 accumulators,
 * a broadcast activation times a weight vec4); no memory traffic. What the
 * tiled kernel's FMA core reaches with its operands in registers.
 */
export function registerTileKernel(
  groups: number,
  iters: number,
  layout: "rows" | "outer",
): KernelSpec {
  const r8 = Array.from({ length: 8 }, (_, i) => i);
  const init = r8.map((i) =>
    `  let a${i} = vec4<f32>(0.999, 0.998, 0.997, 0.996) - vec4<f32>(f32((g.x + ${i}u) % 7u) * 1e-7);
  let b${i} = vec4<f32>(1e-3) * f32(${i + 1}u + g.y);`
  );
  const lines: string[] = [];
  if (layout === "rows") {
    for (const i of r8) for (const j of r8) lines.push(`  var c${i}_${j} = f32(g.x);`);
  } else {
    for (const i of r8.slice(0, 4)) {
      for (const j of r8.slice(0, 4)) lines.push(`  var c${i}_${j} = vec4<f32>(f32(g.x));`);
    }
  }
  const body: string[] = [];
  if (layout === "rows") {
    for (const i of r8) {
      for (const j of r8) {
        const f = (c: string, acc: string) => `fma(a${i}.${c}, b${j}.${c}, ${acc})`;
        body.push(`    c${i}_${j} = ${f("w", f("z", f("y", f("x", `c${i}_${j}`))))};`);
      }
    }
  } else {
    // k = 0…3: activation rows a(2k), a(2k+1) (4 rows each), weight columns b(2k), b(2k+1).
    for (const k of r8.slice(0, 4)) {
      for (const [h, ah] of [[0, 2 * k], [1, 2 * k + 1]]) {
        for (const [c, comp] of [...("xyzw")].entries()) {
          for (const [jh, bj] of [[0, 2 * k], [1, 2 * k + 1]]) {
            const acc = `c${2 * h + (c >> 1)}_${2 * jh + (c & 1)}`;
            body.push(`    ${acc} = fma(vec4<f32>(a${ah}.${comp}), b${bj}, ${acc});`);
          }
        }
      }
    }
  }
  const names = lines.map((l) => /var (c\d_\d)/.exec(l)![1]);
  const sum = layout === "rows" ? names.join(" + ") : `dot(${names.join(" + ")}, vec4<f32>(1.0))`;
  return sinkKernel(
    `register tile, ${layout}`,
    `experiment-register-tile-${layout}-${iters}`,
    groups,
    `${init.join("\n")}
${lines.join("\n")}
  for (var i = 0u; i < ${iters}u; i++) {
${body.join("\n")}
  }
  let t = ${sum};`,
    "t == f32(p.a)",
  );
}

/** Independent accumulators per thread of the dp4a-only kernel, to cover the instruction's latency. */
export const DP4A_CHAINS = 16;

/**
 * A kernel of packed int8 dot products only: {@linkcode DP4A_CHAINS}
 * independent chains of `iters` accumulating `dot4I8Packed` per thread (4
 * multiply-adds each), the int8 paths' instruction.
 */
export function dp4aPeakKernel(groups: number, iters: number, count = DP4A_CHAINS): KernelSpec {
  // Each product reads its own chain's last value, so nothing is loop-invariant.
  const chains = Array.from({ length: count }, (_, i) => i);
  return sinkKernel(
    "dp4a peak",
    `experiment-dp4a-peak-${iters}-${count}`,
    groups,
    `  let b = 0x01ff01ffu ^ g.x;
${chains.map((i) => `  var c${i} = i32(g.x) + ${i};`).join("\n")}
  for (var i = 0u; i < ${iters}u; i++) {
${chains.map((i) => `    c${i} += dot4I8Packed(bitcast<u32>(c${i}), b);`).join("\n")}
  }
  let t = ${chains.map((i) => `c${i}`).join(" + ")};`,
    "u32(t) == p.a",
  );
}

/** What the candidates read besides the weights, and the unit their rate is printed in. */
export interface TimingInputs {
  /** The activation buffers bound between the weights and y (default: f32 x of `mMax` rows). */
  activations?: (device: GPUDevice, mMax: number, k: number) => GPUBuffer[];
  /** Default "TFLOP/s". */
  unit?: string;
  /**
   * Dispatches of a candidate recorded into one pass, each on the next weight
   * copy (default 1: a pass per dispatch); times are per dispatch.
   */
  ops?: number;
}

/** The f32 activations of `mMax` rows of K, values in [-0.5, 0.5). */
function f32Activations(device: GPUDevice, mMax: number, k: number): GPUBuffer[] {
  const x = new Float32Array(mMax * k).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  return [uploadStorage(device, "x", x)];
}

/**
 * Times each candidate product per pass, over rotating weight copies (so they
 * come from memory, not L2), for each shape (default: the Llama-3-8B MLP
 * shapes) and M; logs µs and TFLOP/s (2·M·N·K over the time).
 */
export async function timeCandidates(
  device: GPUDevice,
  ms: number[],
  candidatesFor: (m: number, n: number, k: number) => Candidate[],
  log: (line: string) => void,
  shapes: [number, number][] = [[14336, 4096], [4096, 14336]],
  { activations = f32Activations, unit = "TFLOP/s", ops = 1 }: TimingInputs = {},
): Promise<void> {
  const timer = new GpuTimer(device);
  const cache = new DispatchCache(device, "experiment");
  const measure = { minTimeMs: 150, maxIters: 100000, warmup: 4, warmupMs: 300 };
  for (const [n, k] of shapes) {
    const blob = makeQ5KBlob(n, k, { seed: 1 });
    const copies = weightCopies(blob.byteLength, false);
    const ws = Array.from({ length: copies }, () => uploadStorage(device, "weights", blob));
    const mMax = Math.max(...ms);
    const xs = activations(device, mMax, k);
    const y = device.createBuffer({ size: mMax * n * 4, usage: GPUBufferUsage.STORAGE });
    for (const m of ms) {
      for (const c of candidatesFor(m, n, k)) {
        const part = c.partBytes
          ? device.createBuffer({ size: c.partBytes, usage: GPUBufferUsage.STORAGE })
          : null;
        let turn = 0;
        const timing = await timer.measure((encoder, timestampWrites) => {
          const pass = encoder.beginComputePass({ timestampWrites });
          for (let i = 0; i < ops; i++) {
            const w = ws[turn++ % copies];
            dispatch(device, pass, c.specs[0], cache, [w, ...xs, part ?? y]);
            if (part) dispatch(device, pass, c.specs[1], cache, [part, y]);
          }
          pass.end();
        }, measure);
        const t = { medianUs: timing.medianUs / ops };
        const tflops = (2 * m * n * k) / t.medianUs / 1e6;
        log(
          `${n}x${k}\tM=${m}\t${c.label}${ops > 1 ? ` (${ops} a pass)` : ""}\t${
            t.medianUs.toFixed(1)
          } µs\t${tflops.toFixed(1)} ${unit}`,
        );
        part?.destroy();
      }
    }
    for (const b of [...ws, ...xs, y]) b.destroy();
  }
  timer.destroy();
  cache.destroy();
}

if (import.meta.main) {
  const device = await requestDevice();
  // `--only=TEXT`: only the variants whose label holds TEXT, and no peak kernels.
  const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7);
  const args = Deno.args.filter((a) => !a.startsWith("--only="));
  const peakOnly = args[0] === "peak";
  const ms = args.length && !peakOnly ? intList("M", args.join(",")) : [64, 128, 512];
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  if (only === undefined) {
    const timer = new GpuTimer(device);
    const cache = new DispatchCache(device, "experiment");
    const measure = { minTimeMs: 150, maxIters: 100000, warmup: 4, warmupMs: 300 };
    const groups = 132 * 64;
    const iters = 4096;
    const y = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    const shapes = [
      ["constant", {}],
      ["runtime", {}],
      ["runtime", { chains: 16 }],
      ["runtime", { chains: 32 }],
      ["runtime", { unroll: 4 }],
      ["runtime", { chains: 16, unroll: 4 }],
      // One, two and four workgroups an SM (of 132): 8, 16 and 32 warps.
      ["runtime", { chains: 16, unroll: 4, groups: 132 }],
      ["runtime", { chains: 16, unroll: 4, groups: 264 }],
      ["runtime", { chains: 16, unroll: 4, groups: 528 }],
    ] as const;
    // One kernel per pass; logs µs and the rate of its `ops` operations.
    const time = async (label: string, spec: KernelSpec, ops: number, unit = "TFLOP/s") => {
      const t = await timer.measure((encoder, timestampWrites) => {
        const pass = encoder.beginComputePass({ timestampWrites });
        dispatch(device, pass, spec, cache, [y]);
        pass.end();
      }, measure);
      log(`${label}\t${t.medianUs.toFixed(1)} µs\t${(ops / t.medianUs / 1e6).toFixed(1)} ${unit}`);
    };
    for (const [operands, shape] of shapes) {
      const g = "groups" in shape ? shape.groups : groups;
      const n = (iters * groups) / g;
      const spec = fmaPeakKernel(g, n, operands, shape);
      const chains = "chains" in shape ? shape.chains : 8;
      const label = `${spec.name}${g === groups ? "" : `, ${g} workgroups`}`;
      await time(label, spec, g * 256 * n * chains * 4 * 2);
    }
    for (const layout of ["rows", "outer"] as const) {
      for (const g of [132, groups]) {
        const n = (iters * groups) / g / 8;
        const spec = registerTileKernel(g, n, layout);
        await time(`${spec.name}, ${g} workgroups`, spec, g * 256 * n * 512);
      }
    }
    if (hasPackedDot()) {
      for (const chains of [DP4A_CHAINS, 2 * DP4A_CHAINS, 4 * DP4A_CHAINS]) {
        const spec = dp4aPeakKernel(groups, iters, chains);
        await time(
          `dp4a peak, ${chains} chains`,
          spec,
          groups * 256 * iters * chains * 4 * 2,
          "TOP/s",
        );
      }
    }
    y.destroy();
    timer.destroy();
    cache.destroy();
  }
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  if (!peakOnly) {
    const bytes = device.limits.maxComputeWorkgroupStorageSize;
    await timeCandidates(device, ms, (m, n, k) => candidates(m, n, k, maxDim, only, bytes), log);
  }
}
