import assert from "node:assert/strict";
import { crossoverText, formatCsv, formatTable } from "./report.ts";
import type { BenchResult } from "./sweep.ts";
import { testReport } from "./_test_report.ts";
import { crossoverFor } from "../kernels/crossover.ts";

const info = (vendor: string, description = "") =>
  ({ vendor, description, architecture: "", device: "" }) as GPUAdapterInfo;

Deno.test("crossoverText() names the shared-pass limit and the K-major tiled form only where they apply", () => {
  assert.equal(
    crossoverText(crossoverFor(info("4318", "NVIDIA H200"))),
    "auto uses mat-vec up to M = 2 (in a shared pass up to 1), lane-per-row up to 84 (tiled also " +
      "at M = 57…64), tiled above " +
      "(f32 at 64- and 128-row tiles K-major on transposed activations, 256-row tiles from " +
      "M = 129 where M fills an even count of 128-row ones and 48 KiB of workgroup memory are " +
      "given, K-split for 132 workgroups at a time); where WGSL has dot4I8Packed, before those " +
      "mat-vec on 24-bit activations up to M = 4 " +
      "(int8: mat-vec up to 8, lane-per-row up to 256): measured for NVIDIA (H200 and H100, Vulkan; " +
      "bench/results/h200.json, h100.json)",
  );
  const lower = { ...crossoverFor(info("4318", "NVIDIA H200")), maxSharedPassWideMatvecM: 2 };
  assert.match(crossoverText(lower), /24-bit activations up to M = 4 \(in a shared pass 2\) /);
  assert.equal(
    crossoverText(crossoverFor(undefined)),
    "auto uses mat-vec up to M = 8, tiled above (int8: mat-vec up to 8): default (llama.cpp Vulkan " +
      "uses mat-vec up to M = 8)",
  );
});

Deno.test("formatTable() and formatCsv() name auto's shared-pass kernel where it differs", () => {
  const result = (variant: string, sharedPassKernel?: string): BenchResult => ({
    op: "linear",
    variant,
    m: 2,
    n: 256,
    k: 256,
    medianUs: 40,
    p10Us: 39,
    p90Us: 41,
    gbps: 1,
    gflops: 1,
    pctOfCeiling: 1,
    sharedPassUs: 30,
    ...(sharedPassKernel ? { sharedPassKernel } : {}),
  });
  const report = testReport(
    [result("auto(matvec)", "rowlane"), result("matvec")],
    crossoverFor(info("4318", "NVIDIA H200")),
  );
  const lines = formatTable(report).split("\n");
  assert.match(lines.find((l) => l.includes("auto(matvec)"))!, / 30\.0 \(rowlane\) /);
  assert.doesNotMatch(lines.find((l) => / matvec /.test(l))!, /\(rowlane\)/);
  const csv = formatCsv(report).split("\n");
  const column = csv[0].split(",").indexOf("sharedPassKernel");
  assert.ok(column > 0);
  assert.equal(csv[1].split(",")[column], "rowlane");
  assert.equal(csv[2].split(",")[column], "");
});

Deno.test("formatTable() states the 24-bit mat-vec's measured reach where it ran", () => {
  const report = testReport([]);
  report.measuredCrossover = [
    { n: 4096, k: 4096, tiledFromM: 16, wideUpToM: 3 },
    { n: 4096, k: 14336, tiledFromM: 16, wideUpToM: null },
    { n: 256, k: 256, tiledFromM: null },
  ];
  const lines = formatTable(report).split("\n");
  assert.ok(
    lines.includes(
      "crossover 4096×4096: the 24-bit mat-vec is faster than every f32 family up to M = 3",
    ),
  );
  assert.ok(
    lines.includes(
      "crossover 4096×14336: the 24-bit mat-vec is faster than every f32 family at no M from the smallest",
    ),
  );
  assert.equal(lines.filter((l) => l.includes("24-bit")).length, 2);
});
