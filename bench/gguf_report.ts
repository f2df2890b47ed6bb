/**
 * The `bench --gguf` part of a report in text: the file, the upload, the
 * tensors behind each shape, what was skipped, and the whole model's Q5_K
 * time per M.
 *
 * @module
 */

import { type BenchReport, type GGUFBenchInfo, listNames } from "./sweep.ts";

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const us = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

/** The upload in one line. */
export function uploadLine(u: GGUFBenchInfo["upload"]): string {
  return `upload    ${u.tensors} Q5_K tensors, ${mb(u.bytes)} in ${u.uploadMs.toFixed(1)} ms: ${
    u.gbps.toFixed(2)
  } GB/s host → GPU (writeBuffer until the queue is done, one tensor at a time; reading them from the file took ${
    u.readMs.toFixed(1)
  } ms apart)`;
}

/** The file's lines of a `bench --gguf` report; empty where the report has none. */
export function formatGGUF(report: BenchReport): string {
  const g = report.gguf;
  if (!g) return "";
  const lines = [
    `file      ${g.file} (${g.architecture}; header and tensor table parsed in ${
      g.headerMs.toFixed(1)
    } ms)`,
    uploadLine(g.upload),
    `shapes    ${g.shapes.length} distinct Q5_K weight shape${g.shapes.length === 1 ? "" : "s"}:`,
    ...g.shapes.map((s) =>
      `  ${`${s.n}×${s.k}`.padEnd(12)} ${String(s.names.length).padStart(3)}: ${listNames(s.names)}`
    ),
  ];
  if (g.embedding) lines.push(`embedding ${g.embedding} (timed as the embedding table)`);
  if (g.skipped.length) {
    lines.push(`skipped   ${g.skipped.length} tensors not timed (--json lists every one):`);
    const groups = new Map<string, string[]>();
    for (const t of g.skipped) {
      const key = `${t.type}, ${t.reason}`;
      groups.set(key, [...(groups.get(key) ?? []), t.name]);
    }
    const width = Math.max(...[...groups.keys()].map((k) => k.length));
    for (const [key, names] of groups) {
      lines.push(`  ${key.padEnd(width)} ${String(names.length).padStart(3)}: ${listNames(names)}`);
    }
  }
  const model = report.model ?? [];
  if (model.length) {
    const series = [...new Set(model.map((s) => `${s.impl}/${s.variant}`))];
    const tensors = model[0].tensors;
    lines.push(
      "",
      `whole model: Q5_K linear time per step, the sum over its ${tensors} Q5_K weight tensors of their shape's median (µs; the embedding apart)`,
    );
    const head = ["M", ...series.flatMap((s) => [`${s} µs`, `${s} shared pass µs`])];
    const rows = [...new Set(model.map((s) => s.m))].map((m) => [
      String(m),
      ...series.flatMap((name) => {
        const sum = model.find((s) => s.m === m && `${s.impl}/${s.variant}` === name);
        return [
          sum ? us(sum.us) : "-",
          sum?.sharedPassUs === undefined ? "-" : us(sum.sharedPassUs),
        ];
      }),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const row of [head, ...rows]) {
      lines.push(`  ${row.map((c, i) => c.padStart(widths[i])).join("  ")}`);
    }
  }
  return lines.join("\n");
}
