/**
 * Writes the generated WGSL of a matrix of library kernel configurations —
 * the tiled kernel over tiles, layouts and options, the mat-vec over M,
 * activations and row lengths, the lane-per-row kernel over its forms — each with its key, name, grid and uniforms,
 * so a refactor can be checked byte for byte against its base: run it in a
 * checkout of each (e.g. `git worktree add /tmp/base BASE`) and diff the two
 * files. Configurations a kernel refuses are listed with the error. A
 * development aid, not a benchmark.
 *
 * ```sh
 * deno run -A bench/experiments/wgsl_dump.ts OUT.txt
 * ```
 *
 * @module
 */

import type { KernelSpec } from "../../kernels/_gpu.ts";
import { type TiledConfig, tiledKernel } from "../../kernels/tiled_kernel.ts";
import { matvecConfigFor } from "../../kernels/matvec_config.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import { type RowLaneConfig, rowLaneKernel } from "../../kernels/rowlane_kernel.ts";

/** One kernel spec as text: key, name, grid and uniforms on a line, then the WGSL. */
function entry(spec: KernelSpec): string {
  return `${spec.key}|${spec.name}|${JSON.stringify(spec.workgroups)}|${
    Array.from(spec.uniforms)
  }\n${spec.wgsl}`;
}

/** Every combination of the given option values. */
function product<T extends Record<string, readonly unknown[]>>(
  axes: T,
): { [K in keyof T]: T[K][number] }[] {
  return Object.entries(axes).reduce<Record<string, unknown>[]>(
    (all, [key, values]) => all.flatMap((c) => values.map((v) => ({ ...c, [key]: v }))),
    [{}],
  ) as { [K in keyof T]: T[K][number] }[];
}

/** The dump: one entry per configuration, in a fixed order. */
export function wgslDump(): string[] {
  const out: string[] = [];
  const attempt = (what: unknown, make: () => KernelSpec) => {
    try {
      out.push(entry(make()));
    } catch (e) {
      out.push(`ERR ${JSON.stringify(what)} ${(e as Error).message}`);
    }
  };
  const tiledShape = (splits: number) => ({
    m: 300,
    n: 1000,
    k: 1024,
    row0: 0,
    rows: 1000,
    maxWorkgroupsPerDimension: 65535,
    splits,
  });
  const tiled = product({
    tm: [16, 32, 64, 128, 256],
    tn: [64, 128, 256],
    layout: ["rows", "outer"],
    xT: [false, true],
    prefetch: [true, false],
    split: [false, true],
    bias: [false, true],
    vec4Out: [false, true],
    padded: [true, false],
    extra: [{}, { apart: true }],
  });
  for (const { extra, ...base } of tiled) {
    const cfg = { ...base, ...extra } as TiledConfig;
    attempt(cfg, () => tiledKernel(cfg, tiledShape(cfg.split ? 2 : 1)));
  }
  for (const m of [1, 2, 3, 4, 5, 8, 9, 16]) {
    for (const k of [768, 4096, 14336]) {
      for (const [int8, planes] of [[false, 1], [true, 1], [true, 3]] as const) {
        for (const bias of [false, true]) {
          for (const [sg, forceWorkgroup] of [[32, false], [32, true], [0, false]] as const) {
            const cfg = matvecConfigFor(m, k, sg, forceWorkgroup, bias, int8, planes);
            const shape = { m, n: 1000, k, row0: 0, rows: 1000, maxWorkgroupsPerDimension: 65535 };
            attempt(cfg, () => matvecKernel(cfg, shape));
          }
        }
      }
    }
  }
  const rowLane = product({
    mc: [1, 3, 8, 20, 32, 64],
    r: [1, 2],
    wg: [128, 256],
    bias: [false, true],
    split: [false, true],
    pairs: [false, true],
    int8: [false, true],
  });
  for (const cfg of rowLane) {
    attempt(cfg, () => rowLaneKernel(cfg as RowLaneConfig, tiledShape(cfg.split ? 2 : 1)));
  }
  return out;
}

if (import.meta.main) {
  const file = Deno.args[0];
  if (!file) {
    throw new TypeError("Cannot dump WGSL: an output file is required, current value is undefined");
  }
  const out = wgslDump();
  await Deno.writeTextFile(file, out.join("\n=====\n"));
  // deno-lint-ignore no-console
  console.log(
    `${out.length} configurations (${
      out.filter((e) => e.startsWith("ERR")).length
    } refused) → ${file}`,
  );
}
