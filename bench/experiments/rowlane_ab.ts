// A/B of the lane-per-row kernel against its cfa89de version (run after
// `git archive cfa89de | tar x -C _old`): the in-place byte decode with the
// affine or the factored min term, and the block words loaded early or one
// pair ahead. Measured once (H200) and removed again; see the README.
// deno-lint-ignore-file no-console
import { requestDevice } from "../../kernels/device.ts";
import * as NEW from "../../kernels/rowlane_kernel.ts";
import * as OLD from "../../_old/kernels/rowlane_kernel.ts";
import { splitCandidate, timeCandidates } from "./tiled_layouts.ts";
import type { Candidate } from "./tiled_layouts.ts";

const device = await requestDevice();
const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
const ms = Deno.args.map(Number);
function cands(m: number, n: number, k: number): Candidate[] {
  const nb = k / 256;
  const base = NEW.rowLaneConfigFor(m, 49152, false, false);
  const splits = NEW.rowLaneSplits(base, NEW.rowLaneGroups(base, m, n), nb);
  const shape = { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension: maxDim, splits };
  const at = { m, n, splits, maxWorkgroupsPerDimension: maxDim };
  const cfg = { ...base, split: splits > 1 };
  return [
    splitCandidate(`old mc${cfg.mc} split ${splits}`, OLD.rowLaneKernel(cfg, shape), at),
    splitCandidate(`new affine`, NEW.rowLaneKernel({ ...cfg, factored: false }, shape), at),
    splitCandidate(`new factored`, NEW.rowLaneKernel({ ...cfg, factored: true }, shape), at),
    ...(cfg.pairs
      ? (["early", "ahead"] as const).flatMap((load) =>
        [false, true].map((factored) =>
          splitCandidate(
            `new ${load}${factored ? " factored" : ""}`,
            NEW.rowLaneKernel({ ...cfg, factored, load }, shape),
            at,
          )
        )
      )
      : []),
    splitCandidate(`old again`, OLD.rowLaneKernel(cfg, shape), at),
  ];
}
await timeCandidates(device, ms, cands, (s) => console.log(s), [
  [14336, 4096],
  [4096, 14336],
  [4096, 4096],
]);
