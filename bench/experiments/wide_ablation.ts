/**
 * Where the time of the mat-vec on 24-bit activations (the default path's
 * small-M kernel on NVIDIA) goes: the library's kernel against copies of its
 * WGSL with one part of the work cut out — the packed products of the two
 * lower digit planes (made an xor of their operands, so their loads stay
 * live), every packed product, the loads of the two lower planes (made the
 * top plane's words), products and loads cut together — and a bare read of
 * the weights bound the same way. The cut kernels compute nonsense; only
 * their time counts. Timed per pass over rotating weight copies, or
 * `--shared` 8 a pass, with the quantized activations made up. A measuring
 * aid for kernel work, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/wide_ablation.ts [--shared] [M ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import type { KernelSpec } from "../../kernels/_gpu.ts";
import { matvecConfigFor } from "../../kernels/matvec_config.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import { subgroupLayout } from "../../kernels/subgroup_layout.ts";
import { intList } from "../../cli/args.ts";
import { type Candidate, timeCandidates } from "./tiled_layouts.ts";
import { quantizedActivations } from "./int8_ablation.ts";

const lowerProducts = (s: string) =>
  s.replace(
    /let (i[lu]\d+)_([12]) = [^;]*;/g,
    (_, v, p) =>
      `let ${v}_${p} = bitcast<i32>(x${v[1]}_${p}.x ^ x${v[1]}_${p}.y ^ x${v[1]}_${p}.z ^ x${
        v[1]
      }_${p}.w);`,
  );

/** The cuts: each rewrites the production WGSL of the 24-bit mat-vec. */
export const WIDE_CUTS: { label: string; cut: (wgsl: string) => string }[] = [
  { label: "lower planes' products cut", cut: lowerProducts },
  {
    label: "every product cut",
    cut: (s) => s.replaceAll(/dot4I8Packed\(([^,()]+), ([^()]+)\)/g, "bitcast<i32>($1 ^ $2)"),
  },
  {
    label: "lower planes' loads cut",
    cut: (s) =>
      s.replace(/let (x[lu])_([12]) = x\[[^\]]*\];/g, "let $1_$2 = $1_0 ^ vec4<u32>($2u);"),
  },
];

/**
 * A grid-stride vec4 read of the weights' `vec4s` words, bound like the
 * 24-bit mat-vec (uniforms, w, x, xs, y), that stores only on a condition the
 * data never meets: what the weight bytes cost with no work on them.
 */
export function wideBareRead(vec4s: number): KernelSpec {
  const groups = Math.min(Math.ceil(vec4s / 256), 16384);
  return {
    name: "bare read of the weights (24-bit bindings)",
    key: "experiment-wide-bare-read",
    wgsl: `struct P { n: u32, stride: u32, a: u32, b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> xs: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var acc = vec4<u32>(0u);
  for (var i = g.x; i < p.n; i += p.stride) { acc ^= w[i]; }
  if (all(acc == vec4<u32>(0xdeadbeefu))) { y[0] = xs[0].x + f32(x[0].x); }
}`,
    workgroups: [groups, 1, 1],
    uniforms: new Uint32Array([vec4s, groups * 256, 0, 0]),
  };
}

/** The library's 24-bit mat-vec for M, each cut alone, all cut together, a bare read, the library again. */
export function wideAblationCandidates(
  m: number,
  n: number,
  k: number,
  subgroupMinSize: number,
  maxWorkgroupsPerDimension: number,
): Candidate[] {
  const cfg = matvecConfigFor(m, k, subgroupMinSize, false, false, true, 3);
  const spec = matvecKernel(cfg, { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension });
  const base: Candidate = { label: "library 24-bit mat-vec", specs: [spec], partBytes: 0 };
  const one = (label: string, wgsl: string): Candidate => ({
    ...base,
    label,
    specs: [{ ...spec, key: `${spec.key}:${label}`, wgsl }],
  });
  const all = WIDE_CUTS.slice(1).reduce((s, c) => c.cut(s), spec.wgsl);
  return [
    base,
    ...WIDE_CUTS.map((c) => one(c.label, c.cut(spec.wgsl))),
    one("products and lower loads cut", all),
    { label: "bare read", specs: [wideBareRead((n * k / 256) * 11)], partBytes: 0 },
    { ...base, label: "library 24-bit mat-vec again" },
  ];
}

if (import.meta.main) {
  const device = await requestDevice();
  const shared = Deno.args.includes("--shared");
  const args = Deno.args.filter((a) => a !== "--shared");
  const ms = args.length ? intList("M", args.join(",")) : [1, 2];
  const sg = device.features.has("subgroups") ? subgroupLayout(device).minSize : 0;
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  await timeCandidates(
    device,
    ms,
    (m, n, k) => wideAblationCandidates(m, n, k, sg, maxDim),
    log,
    [[14336, 4096], [4096, 14336]],
    { activations: quantizedActivations(3), unit: "TOP/s", ops: shared ? 8 : 1 },
  );
}
