/**
 * Where the time of the f32 tiled kernel goes at prefill sizes, where it runs
 * at about 34 TFLOP/s against the 62.8 that FMAs alone reach on this stack
 * (`tiled_layouts.ts peak`): the library's tiled kernel for M against copies
 * of its WGSL with one part of the work cut out — the weight decode (each
 * staged vec4 made a bitcast of its words), the global loads (activations
 * made values of the index, weights the index xor one cached word), seven of
 * every eight workgroup-memory reads of the compute loop (a thread reads its
 * operands once a K-step instead of once per 4 K), the two barriers of each
 * K-step — and with all four cut; then the same for the K-major (`outer`)
 * layout. The cut kernels compute nonsense; only their time counts. Timed per
 * pass over rotating weight copies, at the library's tile and its
 * 768-workgroup K-split (`splitsFor`; the K-major form's whole-wave split on
 * NVIDIA, `splitsForWaves`, and its transposed activations are not applied
 * here). A measuring aid for kernel work, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/tiled_ablation.ts [M ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { splitsFor, splitStride, tiledKernel, tileFor } from "../../kernels/tiled_kernel.ts";
import { ceilDiv } from "../../kernels/dispatch.ts";
import { intList } from "../../cli/args.ts";
import { type Candidate, splitCandidate, timeCandidates } from "./tiled_layouts.ts";

/** The cuts: each rewrites the production WGSL of the f32 tiled kernel. */
export const TILED_CUTS: {
  label: string;
  cut: (wgsl: string) => string;
  /** What must no longer appear in the kernel's body once cut. */
  gone: RegExp;
}[] = [
  {
    // The header word stays in each value, so its load stays.
    label: "no decode",
    cut: (s) =>
      s.replaceAll(
        /= d1 \* unpack_q\(quants4\((qs\.\w), (qh\.\w), j\)\) - m1;/g,
        "= bitcast<vec4<f32>>(vec4<u32>($1 ^ $2 ^ hd.x));",
      ),
    gone: /unpack_q\(quants4/,
  },
  {
    // One load of x stays, in the first store, so the binding stays in the layout.
    label: "no global loads",
    cut: (s) =>
      s.replaceAll(/x\[min\(row, p\.m - 1u\) \* k4 \+ ([^\]]+)\]/g, "vec4<f32>(f32(row + $1))")
        .replaceAll(/= w\[([^\]]+)\];/g, "= vec4<u32>($1) ^ w[0u];")
        .replace(/\] = (c0_0(?:\.x)?);/, "] = $1 + x[0].x;"),
    gone: /x\[min|= w\[(?!0u\])/,
  },
  {
    // Rows: every read at K offset 0 of its row. K-major (`outer`): every
    // read at the first k of its 8.
    label: "1 in 8 workgroup reads",
    cut: (s) =>
      s.replaceAll(/= (ws|xs)\[(t[nm] \+ \d+u)\]\[\d+u\];/g, "= $1[$2][0u];")
        .replaceAll(
          /= (ws|xs)\[(\d+)u\]\[(t[nm] \+ \d+u)\];/g,
          (_, a: string, k: string, i: string) => `= ${a}[${Number(k) & ~7}u][${i}];`,
        ),
    gone: /= [wx]s\[t[nm] \+ \d+u\]\[[1-9]\d*u\]|= [wx]s\[(?!(?:0|8|16|24)u\])\d+u\]\[t/,
  },
  {
    label: "no barriers",
    cut: (s) => s.replaceAll("workgroupBarrier();", ""),
    gone: /workgroupBarrier/,
  },
];

/** The library's tiled kernel for M (its tile and K-split), each cut alone, all cut together, the library again. */
export function tiledAblationCandidates(
  m: number,
  n: number,
  k: number,
  maxWorkgroupsPerDimension: number,
  layout: "rows" | "outer" = "rows",
): Candidate[] {
  const tile = tileFor(49152, m);
  const splits = splitsFor(ceilDiv(n, tile.tn) * ceilDiv(m, tile.tm), k / 256);
  const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension, splits };
  const spec = tiledKernel({ ...tile, bias: false, split: splits > 1, layout }, shape);
  const name = `${layout === "rows" ? "library" : `library ${layout}`} ${tile.tm}x${tile.tn}`;
  const base = splitCandidate(`${name} split ${splits}`, spec, {
    m,
    n,
    splits,
    maxWorkgroupsPerDimension,
    stride: splitStride({ layout }, n),
  });
  const one = (label: string, wgsl: string): Candidate => ({
    ...base,
    label,
    specs: [{ ...spec, key: `${spec.key}:${label}`, wgsl }, ...base.specs.slice(1)],
  });
  const all = TILED_CUTS.reduce((s, c) => c.cut(s), spec.wgsl);
  return [
    base,
    ...TILED_CUTS.map((c) => one(c.label, c.cut(spec.wgsl))),
    one(`all four cut${layout === "rows" ? "" : ` (${layout})`}`, all),
    { ...base, label: `${base.label} again` },
  ];
}

if (import.meta.main) {
  const device = await requestDevice();
  const ms = Deno.args.length ? intList("M", Deno.args.join(",")) : [128, 512];
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  await timeCandidates(device, ms, (m, n, k) => [
    ...tiledAblationCandidates(m, n, k, maxDim),
    ...tiledAblationCandidates(m, n, k, maxDim, "outer"),
  ], log);
}
