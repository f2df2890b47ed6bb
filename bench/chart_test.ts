import assert from "node:assert/strict";
import { renderChart } from "./chart.ts";
import type { BenchResult } from "./sweep.ts";
import { testReport } from "./_test_report.ts";

function row(op: "linear" | "embedding", variant: string, m: number): BenchResult {
  return {
    op,
    variant,
    m,
    n: 256,
    k: 256,
    medianUs: 10 * m,
    p10Us: 9 * m,
    p90Us: 11 * m,
    gbps: 1,
    gflops: 1,
    pctOfCeiling: 1,
    llamaCppUs: op === "linear" ? 5 * m : undefined,
  };
}

Deno.test("renderChart gives every series in the legend its own color", () => {
  const variants = ["auto(matvec)", "matvec", "tiled", "matvec-int8"];
  const results = [1, 2, 4].flatMap((m) => [
    ...variants.map((v) => ({ ...row("linear", v, m), denseUs: 3 * m })),
    row("embedding", "gather", m),
  ]);
  const report = testReport(results);
  const svg = renderChart(report);
  // Legend entries: a colored line followed by the series name.
  const legend = [
    ...svg.matchAll(/stroke="(#[0-9a-f]{3,6})" stroke-width="3"\/>\s*<text[^>]*>([^<]+)<\/text>/g),
  ].map((m) => [m[2], m[1]] as const);
  const names = legend.map(([name]) => name);
  for (const n of ["Q5_K auto", "Q5_K matvec-int8", "Q5_K gather", "read ceiling"]) {
    assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
  }
  const colors = legend.map(([, color]) => color);
  assert.equal(new Set(colors).size, colors.length, JSON.stringify(legend));
});
