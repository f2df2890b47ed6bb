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

import { matvecConfigFor } from "../../kernels/matvec_config.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import type { Candidate } from "./tiled_layouts.ts";
import { bareReadKernel } from "./matvec_ablation.ts";
import { timeWide } from "./wide_configs.ts";

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
    { label: "bare read", specs: [bareReadKernel((n * k / 256) * 11, "quantized")], partBytes: 0 },
    { ...base, label: "library 24-bit mat-vec again" },
  ];
}

if (import.meta.main) {
  await timeWide(wideAblationCandidates, [1, 2], [[14336, 4096], [4096, 14336]]);
}
