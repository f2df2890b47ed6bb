/**
 * The mat-vec on 24-bit activations (three digit planes, the default path's
 * small-M kernel on NVIDIA) at other rows per lane group, slots and unrolls
 * than the library's: the library's configuration first and last, each
 * variation between, timed per pass over rotating weight copies, or `--shared`
 * 8 a pass. The quantizing kernel before it is not timed (it is the same for
 * every candidate), and the activations are made up (their values do not
 * change the work). A measuring aid for kernel work, not a benchmark of the
 * library.
 *
 * ```sh
 * deno run -A bench/experiments/wide_configs.ts [--shared] [M ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { type MatvecConfig, matvecConfigFor } from "../../kernels/matvec_config.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import { subgroupLayout } from "../../kernels/subgroup_layout.ts";
import { intList } from "../../cli/args.ts";
import { type Candidate, timeCandidates } from "./tiled_layouts.ts";
import { quantizedActivations } from "./int8_ablation.ts";

/** The variations tried: rows per lane group, slots and unroll (M = 1 also tries unroll 4). */
export function wideVariations(m: number): Pick<MatvecConfig, "rows" | "slots" | "unroll">[] {
  const rows = m === 1 ? [1, 2] : [1, 2, 4];
  const unrolls: MatvecConfig["unroll"][] = m === 1 ? [1, 2, 4] : [1, 2];
  return rows.flatMap((r) =>
    [2, 4, 8].flatMap((slots) => unrolls.map((unroll) => ({ rows: r, slots, unroll })))
  );
}

/** The library's 24-bit mat-vec for M, each variation that differs from it, the library again. */
export function wideConfigCandidates(
  m: number,
  n: number,
  k: number,
  subgroupMinSize: number,
  maxWorkgroupsPerDimension: number,
): Candidate[] {
  const lib = matvecConfigFor(m, k, subgroupMinSize, false, false, true, 3);
  const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension };
  const at = (label: string, cfg: MatvecConfig): Candidate => ({
    label,
    specs: [matvecKernel(cfg, shape)],
    partBytes: 0,
  });
  const name = (c: Pick<MatvecConfig, "rows" | "slots" | "unroll">) =>
    `r${c.rows} s${c.slots} u${c.unroll}`;
  const others = wideVariations(m)
    .filter((v) => v.slots <= k / 256)
    .filter((v) => v.rows !== lib.rows || v.slots !== lib.slots || v.unroll !== lib.unroll)
    .map((v) => at(name(v), { ...lib, ...v }));
  return [
    at(`library ${name(lib)}`, lib),
    ...others,
    at(`library ${name(lib)} again`, lib),
  ];
}

/**
 * Times the candidates `candidatesFor` gives for each M of the command line
 * (`defaultMs` without), on 24-bit activations made up, per pass or with
 * `--shared` 8 a pass: the driver of this script and `wide_ablation.ts`.
 */
export async function timeWide(
  candidatesFor: (m: number, n: number, k: number, sg: number, maxDim: number) => Candidate[],
  defaultMs: number[],
  shapes: [number, number][],
): Promise<void> {
  const device = await requestDevice();
  const shared = Deno.args.includes("--shared");
  const args = Deno.args.filter((a) => a !== "--shared");
  const ms = args.length ? intList("M", args.join(",")) : defaultMs;
  const sg = device.features.has("subgroups") ? subgroupLayout(device).minSize : 0;
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  await timeCandidates(
    device,
    ms,
    (m, n, k) => candidatesFor(m, n, k, sg, maxDim),
    log,
    shapes,
    { activations: quantizedActivations(3), unit: "TOP/s", ops: shared ? 8 : 1 },
  );
}

if (import.meta.main) {
  await timeWide(wideConfigCandidates, [1, 2, 3], [[14336, 4096], [4096, 14336], [4096, 4096]]);
}
