/**
 * Where the time of the int8 lane-per-row kernel goes at M = 32…64, where it
 * runs at about 42 TOP/s against the 96.7 that `dot4I8Packed` chains alone
 * reach: the library's kernel against copies of its WGSL with one part of the
 * work cut out — the per-column reads of the staged activations from
 * workgroup memory (made values of the index), the global loads that stage
 * them (made one cached word), all but one of each sub-block's 8 packed
 * products, the per-column float combine (the sum added as it is), and the
 * workgroup reads and the products cut together. The cut kernels compute
 * nonsense; only their time counts. Timed per pass over rotating weight
 * copies, with the quantized activations made up (their values do not change
 * the work). A measuring aid for kernel work, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/int8_ablation.ts [M ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { dispatch, DispatchCache, type KernelSpec, uploadStorage } from "../../kernels/_gpu.ts";
import {
  rowLaneConfigFor,
  rowLaneGroups,
  rowLaneKernel,
  rowLaneSplits,
} from "../../kernels/rowlane_kernel.ts";
import { splitReduceKernel } from "../../kernels/tiled_kernel.ts";
import { quantizedXBytes } from "../../kernels/quantize_x_kernel.ts";
import { makeQ5KBlob } from "../../kernels/make_blob.ts";
import { intList } from "../../cli/args.ts";
import { GpuTimer } from "../timing.ts";
import { weightCopies } from "../sweep.ts";

/** The cuts: each rewrites the production WGSL of the int8 lane-per-row kernel. */
export const INT8_CUTS: { label: string; cut: (wgsl: string) => string }[] = [
  {
    // The compiler may then drop the staging too: its stores have no reader.
    label: "no workgroup reads",
    cut: (s) =>
      s.replaceAll(/= xqs\[(\d+)\]\[j\]\[(\d)\];/g, "= vec4<u32>($1u + $2u + j);")
        .replaceAll(/= xfs\[(\d+)\]\[j\];/g, "= vec2<f32>(f32($1u + j), 1.0);"),
  },
  {
    label: "no staging loads",
    cut: (s) =>
      s.replaceAll(/xq\[row \* [^\]]*\]/g, "(vec4<u32>(v) ^ xq[0u])")
        .replaceAll(/xsc\[row \* [^\]]*\]/g, "(vec2<f32>(f32(v)) + xsc[0u])"),
  },
  {
    label: "one product of 8",
    cut: (s) => s.replaceAll(/(dot4I8Packed\([^)]*\))( \+ dot4I8Packed\([^)]*\))+;/g, "$1;"),
  },
  {
    label: "no float combine",
    cut: (s) =>
      s.replaceAll(/(c(\d+)_\d+) = fma\(f\.x \* g\d+\.x, [^;]*;/g, "$1 += bitcast<f32>(s$2);"),
  },
];

/** One candidate: a label and its kernels (lane-per-row, then the split-K reduction if any). */
export interface Int8Candidate {
  label: string;
  specs: KernelSpec[];
  splits: number;
}

/**
 * The library's int8 lane-per-row kernel for M, each cut alone, the
 * workgroup reads and 7 of 8 products cut together, the library again.
 */
export function int8AblationCandidates(
  m: number,
  n: number,
  k: number,
  maxWorkgroupsPerDimension: number,
): Int8Candidate[] {
  const cfg = rowLaneConfigFor(m, 49152, false, false, true);
  const splits = rowLaneSplits(cfg, rowLaneGroups(cfg, m, n), k / 256);
  const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension, splits };
  const spec = rowLaneKernel({ ...cfg, split: splits > 1 }, shape);
  const reduce = splits > 1
    ? [splitReduceKernel(m, n, splits, false, maxWorkgroupsPerDimension)]
    : [];
  const one = (label: string, wgsl: string): Int8Candidate => ({
    label,
    specs: [{ ...spec, key: `${spec.key}:${label}`, wgsl }, ...reduce],
    splits,
  });
  const base = { label: "library", specs: [spec, ...reduce], splits };
  const both = INT8_CUTS[2].cut(INT8_CUTS[0].cut(spec.wgsl));
  return [
    base,
    ...INT8_CUTS.map((c) => one(c.label, c.cut(spec.wgsl))),
    one("no workgroup reads, one product", both),
    { ...base, label: "library again" },
  ];
}

if (import.meta.main) {
  const device = await requestDevice();
  const ms = Deno.args.length ? intList("M", Deno.args.join(",")) : [32, 64];
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  const timer = new GpuTimer(device);
  const cache = new DispatchCache(device, "experiment");
  const measure = { minTimeMs: 150, maxIters: 100000, warmup: 4, warmupMs: 300 };
  const usage = GPUBufferUsage.STORAGE;
  for (const [n, k] of [[14336, 4096], [4096, 14336]]) {
    const blob = makeQ5KBlob(n, k, { seed: 1 });
    const copies = weightCopies(blob.byteLength, false);
    const ws = Array.from({ length: copies }, () => uploadStorage(device, "weights", blob));
    const mMax = Math.max(...ms);
    const sizes = quantizedXBytes(mMax, k);
    const xq = uploadStorage(device, "xq", new Uint8Array(sizes.q).map((_, i) => (i * 37) & 0x7f));
    const xsc = uploadStorage(
      device,
      "xsc",
      new Float32Array(sizes.scales / 4).map((_, i) => (i % 2 ? 3 : 0.01)),
    );
    const y = device.createBuffer({ size: mMax * n * 4, usage });
    for (const m of ms) {
      for (const c of int8AblationCandidates(m, n, k, maxDim)) {
        const part = c.splits > 1
          ? device.createBuffer({ size: c.splits * m * n * 4, usage })
          : null;
        let turn = 0;
        const t = await timer.measure((encoder, timestampWrites) => {
          const pass = encoder.beginComputePass({ timestampWrites });
          dispatch(device, pass, c.specs[0], cache, [ws[turn++ % copies], xq, xsc, part ?? y]);
          if (part) dispatch(device, pass, c.specs[1], cache, [part, y]);
          pass.end();
        }, measure);
        const tops = (2 * m * n * k) / t.medianUs / 1e6;
        // deno-lint-ignore no-console
        console.log(
          `${n}x${k}\tM=${m}\t${c.label}\t${t.medianUs.toFixed(1)} µs\t${tops.toFixed(1)} TOP/s`,
        );
        part?.destroy();
      }
    }
    for (const b of [...ws, xq, xsc, y]) b.destroy();
  }
  timer.destroy();
  cache.destroy();
}
