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
import { uploadStorage } from "../../kernels/_gpu.ts";
import {
  rowLaneConfigFor,
  rowLaneGroups,
  rowLaneKernel,
  rowLaneSplits,
} from "../../kernels/rowlane_kernel.ts";
import { quantizedXBytes, type XPlanes } from "../../kernels/quantize_x_kernel.ts";
import { intList } from "../../cli/args.ts";
import { type Candidate, splitCandidate, timeCandidates } from "./tiled_layouts.ts";

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

/**
 * The library's int8 lane-per-row kernel for M, each cut alone, the
 * workgroup reads and 7 of 8 products cut together, the library again.
 */
export function int8AblationCandidates(
  m: number,
  n: number,
  k: number,
  maxWorkgroupsPerDimension: number,
): Candidate[] {
  const cfg = rowLaneConfigFor(m, 49152, false, false, true);
  const splits = rowLaneSplits(cfg, rowLaneGroups(cfg, m, n), k / 256);
  const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension, splits };
  const spec = rowLaneKernel({ ...cfg, split: splits > 1 }, shape);
  const base = splitCandidate("library", spec, { m, n, splits, maxWorkgroupsPerDimension });
  const one = (label: string, wgsl: string): Candidate => ({
    ...base,
    label,
    specs: [{ ...spec, key: `${spec.key}:${label}`, wgsl }, ...base.specs.slice(1)],
  });
  const both = INT8_CUTS[2].cut(INT8_CUTS[0].cut(spec.wgsl));
  return [
    base,
    ...INT8_CUTS.map((c) => one(c.label, c.cut(spec.wgsl))),
    one("no workgroup reads, one product", both),
    { ...base, label: "library again" },
  ];
}

/**
 * Made-up quantized activations of `planes` digit planes (their values do
 * not change the work) and their (scale, sum) pairs, as `timeCandidates`
 * binds them.
 */
export function quantizedActivations(
  planes: XPlanes = 1,
): (device: GPUDevice, mMax: number, k: number) => GPUBuffer[] {
  return (device, mMax, k) => madeUp(device, quantizedXBytes(mMax, k, planes));
}

function madeUp(device: GPUDevice, sizes: { q: number; scales: number }): GPUBuffer[] {
  return [
    uploadStorage(device, "xq", new Uint8Array(sizes.q).map((_, i) => (i * 37) & 0x7f)),
    uploadStorage(
      device,
      "xsc",
      new Float32Array(sizes.scales / 4).map((_, i) => i % 2 ? 3 : 0.01),
    ),
  ];
}

if (import.meta.main) {
  const device = await requestDevice();
  const ms = Deno.args.length ? intList("M", Deno.args.join(",")) : [32, 64];
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  await timeCandidates(
    device,
    ms,
    (m, n, k) => int8AblationCandidates(m, n, k, maxDim),
    log,
    undefined,
    { activations: quantizedActivations(), unit: "TOP/s" },
  );
}
