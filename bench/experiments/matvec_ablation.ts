/**
 * Where the time of the small-M kernels goes: the library's kernel for M
 * (mat-vec, or lane-per-row where `auto` picks it) against copies of its WGSL
 * with one part of the work cut out — the byte decode (`unpack_q` made a
 * bitcast), the scale decode (d, dmin and the 6-bit scales made bitcasts of
 * the header words), the activation loads (global, or the workgroup-memory
 * reads of the lane-per-row kernel, made a value of the index), the weight
 * loads from memory (each made the index xor one cached word), the weights
 * read as if interleaved across rows (same words, coalesced), the mat-vec's
 * activations read as if adjacent lanes took adjacent vectors — and with the
 * first three cut together; and a bare streaming read of the same weight
 * bytes. The cut kernels compute nonsense; only their time counts. Timed per
 * pass over rotating weight copies, or with `--shared` 8 dispatches a pass
 * (as `record()` runs a model step), each on the next copy. A measuring aid
 * for kernel work, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/matvec_ablation.ts [--shared] [M ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import type { KernelSpec } from "../../kernels/_gpu.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import { matvecConfigFor } from "../../kernels/matvec_config.ts";
import { subgroupLayout } from "../../kernels/subgroup_layout.ts";
import { intList } from "../../cli/args.ts";
import { type Candidate, splitCandidate, timeCandidates } from "./tiled_layouts.ts";
import {
  rowLaneConfigFor,
  rowLaneGroups,
  rowLaneKernel,
  rowLaneSplits,
} from "../../kernels/rowlane_kernel.ts";
import { crossoverFor } from "../../kernels/crossover.ts";

/** The cuts: each rewrites the production WGSL. */
export const CUTS: { label: string; cut: (wgsl: string) => string; matvecOnly?: boolean }[] = [
  {
    label: "no byte decode",
    cut: (s) => s.replaceAll(/(?<!fn )unpack_q(_scaled)?\(/g, "cheap_q("),
  },
  {
    label: "no scale decode",
    cut: (s) =>
      s.replaceAll(
        /vec2<f32>\(f16_bits_to_f32\((h\w+)\.x[^;]*;/g,
        "vec2<f32>(bitcast<f32>($1.x), bitcast<f32>($1.y));",
      )
        .replaceAll(/f16_bits_to_f32\((h\w+)\.x[^;]*\);/g, "bitcast<f32>($1.x);")
        .replaceAll(/f16x2_to_f32\((h\w+)\.x\)/g, "bitcast<vec2<f32>>($1.xy)")
        .replaceAll(/scale_min_pair\(j, (h\w+)\.y, \w+\.z, \w+\.w\)/g, "bitcast<vec4<f32>>($1)")
        .replaceAll(/scale_min\((j[^,]*), (h\w+)\.y, \w+\.z, \w+\.w\)/g, "vec2<u32>($2.y, $2.z)")
        .replaceAll(/f32\((s[lum]\w+)\.([xy])\)/g, "bitcast<f32>($1.$2)"),
  },
  {
    label: "no activation loads",
    // One load of x stays, in the stores, so the binding stays in the layout.
    cut: (s) =>
      s.replaceAll(/= x\[(xb[^\]]*)\];/g, "= vec4<f32>(bitcast<f32>($1));")
        .replaceAll(/\] = (a\d+_\d+)/g, "] = $1 + x[0].x")
        .replaceAll(/= xs\[(\d+)\]\[([^\]]+)\]\[(\d+)\];/g, "= vec4<f32>(f32($1 + $3) + f32($2));"),
  },
  {
    label: "no weight loads",
    cut: (s) => {
      const vec = s.includes("array<vec2<u32>>") ? "vec2<u32>" : "vec4<u32>";
      return s.replaceAll(/= w\[([^\]]+)\];/g, `= ${vec}($1) ^ w[0u];`);
    },
  },
  {
    label: "weights interleaved",
    // Every load reads the same number of words, but word o of block b of row
    // n comes from (b·words + o)·rows + n: the lanes of a subgroup, which own
    // adjacent rows, read adjacent words (as if the blocks were repacked).
    cut: (s) =>
      s.replaceAll(
        /let base(\w+) = \((\w+) \* p\.nb \+ (\w+)\) \* (\w+);/g,
        "let base$1 = $3 * $4;\n    let brow$1 = $2;",
      ).replaceAll(/w\[base(\w+)([^\]]*)\]/g, "w[(base$1$2) * p.rows + brow$1]"),
  },
  {
    label: "activations coalesced",
    // Mat-vec only: the lanes of one block read the same number of activation
    // vectors, but at each load adjacent lanes read adjacent vectors (one
    // 128-byte line for 8 lanes) instead of four lines 256 bytes apart, as a
    // lane-to-weight mapping of word t of each 64-weight chunk would.
    matvecOnly: true,
    cut: (s) => {
      const tpb = Number(/const TPB = (\d+)u;/.exec(s)?.[1] ?? 8);
      const nw = 32 / tpb;
      return s.replaceAll(/g \* 16u \+ q \* \du;/g, "t;")
        .replaceAll(/x\[(xb\w*) \+ (\d+)u\]/g, (_, xb: string, d: string) => {
          const i = Number(d);
          return `x[${xb} + ${tpb * (i < 8 ? i : nw + i - 8)}u]`;
        });
    },
  },
];

const CHEAP_Q = `
fn cheap_q(v: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(v));
}
`;

/**
 * A grid-stride vec4 read of the weights' `vec4s` words, bound like the
 * mat-vec (uniforms, w, x, y) or, with `bindings` `"quantized"`, like the
 * mat-vec on quantized activations (uniforms, w, x, xs, y), that stores only
 * on a condition the data never meets: what the weight bytes cost with no
 * work on them.
 */
export function bareReadKernel(vec4s: number, bindings: "f32" | "quantized" = "f32"): KernelSpec {
  const groups = Math.min(Math.ceil(vec4s / 256), 16384);
  const quantized = bindings === "quantized";
  const inputs = quantized
    ? `@group(0) @binding(2) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> xs: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;`
    : `@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;`;
  return {
    name: quantized ? "bare read of the weights (quantized bindings)" : "bare read of the weights",
    key: quantized ? "experiment-bare-read-quantized" : "experiment-bare-read",
    wgsl: `struct P { n: u32, stride: u32, a: u32, b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
${inputs}
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var acc = vec4<u32>(0u);
  for (var i = g.x; i < p.n; i += p.stride) { acc ^= w[i]; }
  if (all(acc == vec4<u32>(0xdeadbeefu))) { y[0] = ${
      quantized ? "xs[0].x + f32(x[0].x)" : "x[0].x"
    }; }
}`,
    workgroups: [groups, 1, 1],
    uniforms: new Uint32Array([vec4s, groups * 256, 0, 0]),
  };
}

function variant(spec: KernelSpec, label: string, wgsl: string): KernelSpec {
  return { ...spec, key: `${spec.key}:${label}`, wgsl: wgsl + CHEAP_Q };
}

/** The library's mat-vec for M, then each cut alone and all cuts together. */
export function ablationCandidates(
  m: number,
  n: number,
  k: number,
  subgroupMinSize: number,
  maxWorkgroupsPerDimension: number,
  maxMatvecM: number,
): Candidate[] {
  let base: Candidate;
  if (m <= maxMatvecM) {
    const cfg = matvecConfigFor(m, k, subgroupMinSize, false, false);
    const spec = matvecKernel(cfg, { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension });
    base = { label: "library mat-vec", specs: [spec], partBytes: 0 };
  } else {
    const cfg = rowLaneConfigFor(m, 49152, false, false);
    const splits = rowLaneSplits(cfg, rowLaneGroups(cfg, m, n), k / 256);
    const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension, splits };
    const spec = rowLaneKernel({ ...cfg, split: splits > 1 }, shape);
    base = splitCandidate("library lane-per-row", spec, {
      m,
      n,
      splits,
      maxWorkgroupsPerDimension,
    });
  }
  const [spec, ...rest] = base.specs;
  const one = (label: string, wgsl: string) => ({
    ...base,
    label,
    specs: [variant(spec, label, wgsl), ...rest],
  });
  const all = CUTS.slice(0, 3).reduce((s, c) => c.cut(s), spec.wgsl);
  return [
    base,
    ...CUTS.filter((c) => !c.matvecOnly || m <= maxMatvecM).map((c) =>
      one(c.label, c.cut(spec.wgsl))
    ),
    one("first three cut", all),
    { label: "bare read", specs: [bareReadKernel((n * k / 256) * 11)], partBytes: 0 },
    { ...base, label: `${base.label} again` },
  ];
}

if (import.meta.main) {
  const device = await requestDevice();
  const shared = Deno.args.includes("--shared");
  const args = Deno.args.filter((a) => a !== "--shared");
  const ms = args.length ? intList("M", args.join(",")) : [1, 2, 4, 8];
  const sg = device.features.has("subgroups") ? subgroupLayout(device).minSize : 0;
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  const { maxMatvecM } = crossoverFor(device.adapterInfo);
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  await timeCandidates(
    device,
    ms,
    (m, n, k) => ablationCandidates(m, n, k, sg, maxDim, maxMatvecM),
    log,
    [[14336, 4096], [4096, 14336], [4096, 4096]],
    { ops: shared ? 8 : 1 },
  );
}
