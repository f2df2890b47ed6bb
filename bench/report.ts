/**
 * Printing a bench report: an aligned table like `deno bench`'s, CSV, JSON.
 *
 * @module
 */

import { type BenchReport, type BenchResult, compactNames, SHARED_PASS_OPS } from "./sweep.ts";
import type { Crossover } from "../kernels/crossover.ts";

const COLUMNS: { head: string; get: (r: BenchResult) => string; left?: boolean }[] = [
  { head: "op", get: (r) => r.op, left: true },
  { head: "impl", get: (r) => r.impl ?? "kquant", left: true },
  { head: "variant", get: (r) => r.variant, left: true },
  { head: "N×K", get: (r) => `${r.n}×${r.k}`, left: true },
  { head: "tensors", get: (r) => (r.tensors ? compactNames(r.tensors) : "-"), left: true },
  { head: "M", get: (r) => String(r.m) },
  { head: "median µs", get: (r) => fix(r.medianUs) },
  { head: "p10 µs", get: (r) => fix(r.p10Us) },
  { head: "p90 µs", get: (r) => fix(r.p90Us) },
  { head: "GB/s", get: (r) => r.gbps.toFixed(r.gbps < 10 ? 2 : 0) },
  { head: "GFLOP/s", get: (r) => (r.op === "linear" ? r.gflops.toFixed(0) : "-") },
  { head: "% ceiling", get: (r) => `${r.pctOfCeiling.toFixed(1)}%` },
  {
    head: "shared pass µs",
    get: (r) =>
      r.sharedPassUs === undefined
        ? "-"
        : fix(r.sharedPassUs) + (r.sharedPassKernel ? ` (${r.sharedPassKernel})` : ""),
  },
  { head: "CPU µs", get: (r) => (r.cpuUs === undefined ? "-" : fix(r.cpuUs)) },
  { head: "1-pass read µs", get: (r) => (r.readUs === undefined ? "-" : fix(r.readUs)) },
  { head: "dense f16 µs", get: (r) => (r.denseUs === undefined ? "-" : fix(r.denseUs)) },
  { head: "llama.cpp µs", get: (r) => (r.llamaCppUs === undefined ? "-" : fix(r.llamaCppUs)) },
  {
    head: "llama.cpp/ours",
    get: (r) => (r.llamaCppUs === undefined ? "-" : `${(r.llamaCppUs / r.medianUs).toFixed(2)}×`),
  },
];

function fix(us: number): string {
  return us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2);
}

/** The header lines: adapter, backend, features, clock, ceiling. */
export function formatHeader(report: BenchReport): string {
  const a = report.adapter;
  const lines = [
    `adapter   ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(" / ")}${
      report.software ? " (software)" : ""
    }`,
    `backend   ${report.backend}`,
    `features  ${report.features.join(", ") || "none"}`,
    `clock     ${
      report.clock === "gpu-timestamp" ? `GPU timestamps, tick ${report.tick}` : report.tick
    }`,
    `ceiling   ${report.ceilingGBs.toFixed(0)} GB/s streaming read of ${
      (report.ceilingBytes / 2 ** 20).toFixed(0)
    } MiB (same run)`,
    `1-pass    "1-pass read µs": one streaming read of the weight bytes in a single pass (same copies), the per-pass bound at that size`,
    `shared    "shared pass µs": per op with ${SHARED_PASS_OPS} ops recorded into one compute pass (record()), writing the same y, as a model step runs them`,
    `CPU       "CPU µs": CPU time to encode, finish and submit one pass; above the median, the GPU waited for the CPU`,
    `crossover ${crossoverText(report.crossover)}`,
    `weights   ${
      report.software
        ? "one copy per shape"
        : "each pass uses the next of several copies (≥ 256 MiB in all), so weights stream from memory, not L2"
    }`,
  ];
  if (report.llamaCpp) {
    lines.push(
      `llama.cpp ggml ${report.llamaCpp.backend} backend (${report.llamaCpp.libDir}), wall clock, ≥ 20 ops per graph over the same weight copies`,
    );
  }
  if (report.scaledDown) {
    lines.push(
      "note      software adapter: shapes, M and time per case scaled down to finish in about a minute",
    );
  }
  return lines.join("\n");
}

/** The results as an aligned text table. */
export function formatTable(report: BenchReport): string {
  const cols = COLUMNS.filter((c) =>
    (c.head === "impl" ? report.results.some((r) => (r.impl ?? "kquant") !== "kquant") : true) &&
    (c.head === "tensors" ? report.results.some((r) => r.tensors) : true) &&
    (c.head.startsWith("llama") ? report.results.some((r) => r.llamaCppUs !== undefined) : true) &&
    (c.head.startsWith("dense") ? report.results.some((r) => r.denseUs !== undefined) : true) &&
    (c.head.startsWith("1-pass") ? report.results.some((r) => r.readUs !== undefined) : true)
  );
  const rows = report.results.map((r) => cols.map((c) => c.get(r)));
  const widths = cols.map((c, i) => Math.max(c.head.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((s, i) => (cols[i].left ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join("  ")
      .trimEnd();
  const out = [line(cols.map((c) => c.head)), widths.map((w) => "-".repeat(w)).join("  ")];
  let prev = "";
  for (let i = 0; i < rows.length; i++) {
    const group = `${report.results[i].op} ${report.results[i].n}×${report.results[i].k}`;
    if (prev && group !== prev) out.push("");
    prev = group;
    out.push(line(rows[i]));
  }
  if (report.measuredCrossover.length) out.push("");
  for (const c of report.measuredCrossover) {
    const line = (what: string, from: number | null) =>
      from === null
        ? `crossover ${c.n}×${c.k}${what}: mat-vec stays faster at every M measured`
        : `crossover ${c.n}×${c.k}${what}: tiled is faster than mat-vec from M = ${from}`;
    out.push(line("", c.tiledFromM));
    if (c.int8TiledFromM !== undefined) out.push(line(" (int8)", c.int8TiledFromM));
    const lane = (what: string, from: number | null | undefined) =>
      from === undefined ? [] : [
        `crossover ${c.n}×${c.k}: ${what} ${
          from === null ? "at no M measured from there up" : `from M = ${from}`
        }`,
      ];
    out.push(...lane("lane-per-row is faster than mat-vec", c.rowLaneFromM));
    out.push(...lane("tiled is faster than lane-per-row", c.tiledOverRowLaneFromM));
    out.push(...lane("int8 lane-per-row is faster than int8 mat-vec", c.int8RowLaneFromM));
    out.push(...lane("int8 tiled is faster than int8 lane-per-row", c.int8TiledOverRowLaneFromM));
    if (c.wideUpToM !== undefined) {
      out.push(
        `crossover ${c.n}×${c.k}: the 24-bit mat-vec is faster than every f32 family ${
          c.wideUpToM === null ? "at no M from the smallest" : `up to M = ${c.wideUpToM}`
        }`,
      );
    }
  }
  return out.join("\n");
}

/** The results as CSV, one row per case, the JSON fields as columns. */
export function formatCsv(report: BenchReport): string {
  const keys: (keyof BenchResult)[] = [
    "op",
    "impl",
    "variant",
    "m",
    "n",
    "k",
    "medianUs",
    "p10Us",
    "p90Us",
    "gbps",
    "gflops",
    "pctOfCeiling",
    "denseUs",
    "llamaCppUs",
    "readUs",
    "sharedPassUs",
    "sharedPassKernel",
    "cpuUs",
    "tensors",
  ];
  const cell = (v: unknown) =>
    v === undefined ? "" : Array.isArray(v) ? `"${v.join(" ")}"` : String(v);
  const rows = report.results.map((r) => keys.map((k) => cell(r[k])).join(","));
  return [keys.join(","), ...rows].join("\n") + "\n";
}

/** The report as pretty JSON. */
export function formatJson(report: BenchReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}

/** What `"auto"` runs at which M, in words. */
export function crossoverText(c: Crossover): string {
  const lanes = (matvec: number, rowLane: number | undefined) =>
    rowLane !== undefined && rowLane > matvec ? `, lane-per-row up to ${rowLane}` : "";
  // Reports written before eec8ec5 (bench/results) have no shared-pass limit.
  const shared = c.maxSharedPassMatvecM !== undefined && c.maxSharedPassMatvecM < c.maxMatvecM
    ? ` (in a shared pass up to ${c.maxSharedPassMatvecM})`
    : "";
  // Reports written before this field (bench/results) have no transposedTiled.
  const slots = c.tiledWaveSlots ? `, K-split for ${c.tiledWaveSlots} workgroups at a time` : "";
  const tall = c.tallTiledFromM
    ? `, 256-row tiles from M = ${c.tallTiledFromM} where M fills an even count of 128-row ones and 48 KiB of workgroup memory are given`
    : "";
  const form = c.transposedTiled
    ? ` (f32 at 64- and 128-row tiles K-major on transposed activations${tall}${slots})`
    : "";
  const band = c.tiledBand ? ` (tiled also at M = ${c.tiledBand[0]}…${c.tiledBand[1]})` : "";
  const wide = c.maxWideMatvecM
    ? `; where WGSL has dot4I8Packed, before those mat-vec on 24-bit activations up to M = ${c.maxWideMatvecM}${
      c.maxSharedPassWideMatvecM !== undefined && c.maxSharedPassWideMatvecM < c.maxWideMatvecM
        ? ` (in a shared pass ${c.maxSharedPassWideMatvecM})`
        : ""
    }`
    : "";
  return `auto uses mat-vec up to M = ${c.maxMatvecM}${shared}${
    lanes(c.maxMatvecM, c.maxRowLaneM)
  }${band}, tiled above${form}${wide} (int8: mat-vec up to ${c.maxInt8MatvecM}${
    lanes(c.maxInt8MatvecM, c.maxInt8RowLaneM)
  }): ${c.source}`;
}
