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

Deno.test("renderChart draws auto last, in black, and llama.cpp in its own colour, with 12 series", () => {
  const variants = [
    "auto(matvec)",
    "matvec",
    "rowlane",
    "tiled",
    "matvec-int24",
    "matvec-int8",
    "rowlane-int8",
    "tiled-int8",
  ];
  const results = [1, 2, 4].flatMap((m) => [
    ...variants.map((v) => ({ ...row("linear", v, m), denseUs: 3 * m })),
    row("embedding", "gather", m),
  ]);
  const svg = renderChart(testReport(results));
  const paths = [...svg.matchAll(/<path d="[^"]+" fill="none" stroke="(#[0-9a-f]+)"/g)].map((m) =>
    m[1]
  );
  // The first panel's lines: the forced variants, the baselines, then auto last.
  const firstPanel = paths.slice(0, variants.length + 2);
  assert.equal(firstPanel.at(-1), "#000000", JSON.stringify(firstPanel));
  const legend = new Map(
    [...svg.matchAll(/stroke="(#[0-9a-f]+)" stroke-width="3"\/>\s*<text[^>]*>([^<]+)<\/text>/g)]
      .map((m) => [m[2], m[1]]),
  );
  assert.equal(legend.get("Q5_K auto"), "#000000");
  const others = [...legend].filter(([n]) => n !== "Q5_K auto").map(([, c]) => c);
  assert.ok(!others.includes("#000000"), "auto's colour is its own");
  const llama = [...legend].find(([n]) => n.startsWith("llama.cpp"))![1];
  assert.equal([...legend.values()].filter((c) => c === llama).length, 1, "llama.cpp's too");
  assert.equal(new Set(legend.values()).size, legend.size, JSON.stringify([...legend]));
});
