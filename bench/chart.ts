/**
 * A self-contained SVG of a bench report: for every linear shape, latency and
 * GB/s against M (log scales), one line per variant plus the dense baseline
 * and llama.cpp; embedding against the number of ids. No dependencies.
 *
 * @module
 */

import type { BenchReport, BenchResult } from "./sweep.ts";

const PANEL_W = 420;
const PANEL_H = 260;
const PAD = { l: 64, r: 16, t: 34, b: 44 };
/** The forced variants' and the gather's colours; none is auto's, llama.cpp's or the baselines'. */
const COLORS = [
  "#1f77b4",
  "#2ca02c",
  "#9467bd",
  "#ff7f0e",
  "#8c564b",
  "#17becf",
  "#e377c2",
  "#bcbd22",
  "#aec7e8",
  "#98df8a",
];
/** The library's default: black, thicker, drawn last, so no forced variant hides it. */
const AUTO = "Q5_K auto";
const AUTO_COLOR = "#000000";
const LLAMA_COLOR = "#d62728";
const BASELINE_COLOR = "#7f7f7f";

interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

function fmt(v: number): string {
  return v >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(3)}`;
}

function panel(
  x0: number,
  y0: number,
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
  colorOf: (s: string) => string,
): string {
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  if (pts.length === 0) return "";
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [xlo, xhi] = [
    Math.min(...xs),
    Math.max(...xs) * (Math.min(...xs) === Math.max(...xs) ? 2 : 1),
  ];
  const [ylo, yhi] = [Math.min(...ys) / 1.3, Math.max(...ys) * 1.3];
  const w = PANEL_W - PAD.l - PAD.r;
  const h = PANEL_H - PAD.t - PAD.b;
  const sx = (x: number) => x0 + PAD.l + (w * Math.log(x / xlo)) / Math.log(xhi / xlo);
  const sy = (y: number) => y0 + PAD.t + h - (h * Math.log(y / ylo)) / Math.log(yhi / ylo);
  const out: string[] = [];
  out.push(
    `<text x="${x0 + PANEL_W / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${
      esc(title)
    }</text>`,
  );
  out.push(
    `<rect x="${x0 + PAD.l}" y="${
      y0 + PAD.t
    }" width="${w}" height="${h}" fill="none" stroke="#888"/>`,
  );
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  for (const t of xTicks.length > 14 ? logTicks(xlo, xhi) : xTicks) {
    out.push(
      `<line x1="${sx(t)}" x2="${sx(t)}" y1="${y0 + PAD.t}" y2="${y0 + PAD.t + h}" stroke="#eee"/>`,
    );
    out.push(
      `<text x="${sx(t)}" y="${y0 + PAD.t + h + 14}" text-anchor="middle" font-size="10">${
        fmt(t)
      }</text>`,
    );
  }
  for (const t of logTicks(ylo, yhi)) {
    out.push(
      `<line x1="${x0 + PAD.l}" x2="${x0 + PAD.l + w}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/>`,
    );
    out.push(
      `<text x="${x0 + PAD.l - 4}" y="${sy(t) + 3}" text-anchor="end" font-size="10">${
        fmt(t)
      }</text>`,
    );
  }
  out.push(
    `<text x="${x0 + PAD.l + w / 2}" y="${y0 + PANEL_H - 8}" text-anchor="middle" font-size="11">${
      esc(xLabel)
    }</text>`,
  );
  out.push(
    `<text transform="translate(${x0 + 14},${
      y0 + PAD.t + h / 2
    }) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)}</text>`,
  );
  const ordered = [
    ...series.filter((s) => s.name !== AUTO),
    ...series.filter((s) => s.name === AUTO),
  ];
  for (const s of ordered) {
    const p = s.points.filter(([x, y]) => x > 0 && y > 0).sort((a, b) => a[0] - b[0]);
    if (p.length === 0) continue;
    const d = p.map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(
      " ",
    );
    const c = colorOf(s.name);
    out.push(
      `<path d="${d}" fill="none" stroke="${c}" stroke-width="${s.name === AUTO ? 3 : 2}"${
        s.dashed ? ' stroke-dasharray="5,3"' : ""
      }/>`,
    );
    for (const [x, y] of p) {
      out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${c}"/>`);
    }
  }
  return out.join("\n");
}

function seriesOf(rows: BenchResult[], value: (r: BenchResult) => number | undefined): Series[] {
  const byVariant = new Map<string, [number, number][]>();
  for (const r of rows) {
    const name = r.variant.startsWith("auto") ? "auto" : r.variant;
    const v = value(r);
    if (v === undefined) continue;
    if (!byVariant.has(name)) byVariant.set(name, []);
    byVariant.get(name)!.push([r.m, v]);
  }
  return [...byVariant].map(([name, points]) => ({ name: `Q5_K ${name}`, points }));
}

function baseline(
  rows: BenchResult[],
  name: string,
  value: (r: BenchResult) => number | undefined,
): Series | null {
  const seen = new Map<number, number>();
  for (const r of rows) {
    const v = value(r);
    if (v !== undefined) seen.set(r.m, v);
  }
  return seen.size ? { name, points: [...seen], dashed: true } : null;
}

/** Renders the report as an SVG document. */
export function renderChart(report: BenchReport): string {
  const groups = new Map<string, BenchResult[]>();
  for (const r of report.results) {
    const key = r.op === "linear" ? `linear ${r.n}×${r.k}` : `embedding ${r.n}×${r.k}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const names = new Set<string>();
  const panels: { title: string; xLabel: string; lat: Series[]; bw: Series[] }[] = [];
  for (const [title, rows] of groups) {
    const linear = rows[0].op === "linear";
    const bytesPer = (r: BenchResult) => r.gbps * r.medianUs; // bytes moved / 1e3
    const lat = seriesOf(rows, (r) => r.medianUs);
    const bw = seriesOf(rows, (r) => r.gbps);
    const dense = baseline(rows, "dense f16", (r) => r.denseUs);
    if (dense) lat.push(dense);
    const llama = baseline(
      rows,
      `llama.cpp ${report.llamaCpp?.backend ?? ""}`.trim(),
      (r) => r.llamaCppUs,
    );
    if (llama) {
      lat.push(llama);
      bw.push({
        ...llama,
        points: rows.filter((r) => r.llamaCppUs).map((r) => [r.m, bytesPer(r) / r.llamaCppUs!]),
      });
    }
    bw.push({
      name: "read ceiling",
      points: rows.map((r) => [r.m, report.ceilingGBs]),
      dashed: true,
    });
    for (const s of [...lat, ...bw]) names.add(s.name);
    panels.push({ title, xLabel: linear ? "batch size M" : "number of ids", lat, bw });
  }
  const colorList = [...names];
  const fixed = (n: string) =>
    n === AUTO
      ? AUTO_COLOR
      : n.startsWith("llama.cpp")
      ? LLAMA_COLOR
      : n === "read ceiling"
      ? "#444"
      : n === "dense f16"
      ? BASELINE_COLOR
      : null;
  const colored = colorList.filter((n) => fixed(n) === null);
  const colorOf = (n: string) => fixed(n) ?? COLORS[colored.indexOf(n) % COLORS.length];
  const legendH = 24 + 16 * Math.ceil(colorList.length / 3);
  const width = 2 * PANEL_W;
  const height = 40 + panels.length * PANEL_H + legendH;
  const a = report.adapter;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(
        `Q5_K on ${a.description || `${a.vendor} ${a.device}`} (${report.backend}, ${
          report.clock === "gpu-timestamp" ? "GPU timestamps" : "wall clock"
        })`,
      )
    }</text>`,
  ];
  panels.forEach((p, i) => {
    const y0 = 36 + i * PANEL_H;
    out.push(panel(0, y0, `${p.title}: latency`, p.xLabel, "median latency (µs)", p.lat, colorOf));
    out.push(
      panel(
        PANEL_W,
        y0,
        `${p.title}: bandwidth`,
        p.xLabel,
        "GB/s (bytes moved / time)",
        p.bw,
        colorOf,
      ),
    );
  });
  const ly = 40 + panels.length * PANEL_H;
  colorList.forEach((n, i) => {
    const x = 20 + (i % 3) * (width / 3);
    const y = ly + 8 + 16 * Math.floor(i / 3);
    out.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${
        colorOf(n)
      }" stroke-width="3"/>`,
    );
    out.push(`<text x="${x + 30}" y="${y + 4}">${esc(n)}</text>`);
  });
  out.push("</svg>");
  return out.filter(Boolean).join("\n") + "\n";
}
