/**
 * The `--gguf` side of the commands: `info --gguf`, `conform --gguf`, and
 * opening a file for `bench --gguf`.
 *
 * @module
 */

import { err, openDevice, out } from "./_io.ts";
import type { ConformOptions } from "./args.ts";
import type { Implementation } from "../kernels/implementation.ts";
import { type GGUFPlan, ggufPlan } from "../bench/gguf_plan.ts";
import { type GGUFFile, openGGUF } from "../gguf/reader.ts";

/** A file opened for `bench --gguf`. */
export interface BenchGGUF {
  file: GGUFFile;
  plan: GGUFPlan;
  /** Milliseconds to parse the header and tensor table. */
  headerMs: number;
}

/** Opens `path` for `bench --gguf`: the parsed file, what to time, what to upload. */
export async function openBenchGGUF(path: string): Promise<BenchGGUF> {
  const started = performance.now();
  const file = await openGGUF(path);
  const headerMs = performance.now() - started;
  return { file, plan: ggufPlan(file), headerMs };
}

/** `conform --gguf`: the file's Q5_K tensors against llama.cpp (which it needs). */
export async function conformGGUF(
  o: ConformOptions,
  path: string,
  impls: Implementation[],
  loadFailures: number,
): Promise<number> {
  const { resultLine, Tally } = await import("../conformance/suite.ts");
  const { GGUF_DEFAULT_ROWS, GGUF_LINEAR_RUNS, runGGUFSuite } = await import(
    "../conformance/gguf_suite.ts"
  );
  let file;
  try {
    file = await openGGUF(path);
  } catch (error) {
    err(`error: --gguf ${path}: ${(error as Error).message}; nothing was checked`);
    return 1;
  }
  const { loadLlamaCpp } = await import("../conformance/oracle.ts");
  let oracle;
  try {
    oracle = await loadLlamaCpp();
  } catch (error) {
    err(
      `error: conform --gguf checks against llama.cpp, which did not load: ${
        (error as Error).message
      }`,
    );
    file.source.close?.();
    return 1;
  }
  const { device } = await openDevice(o.backend);
  const rows = o.rows ?? GGUF_DEFAULT_ROWS;
  const ms = GGUF_LINEAR_RUNS.filter((r) => r.m <= (o.maxM ?? Infinity)).map((r) =>
    `${r.m}${r.x === "uniform" ? "" : ` (x=${r.x})`}`
  );
  out(
    `${path}: every 2-D Q5_K tensor at M = ${ms.join(", ") || "none (--max-m)"}, ${
      rows === Infinity
        ? "every row"
        : `tensors of more than ${rows} rows on a seeded sample of ${rows}`
    }; token_embd as an embedding where it is Q5_K`,
  );
  const tally = new Tally(loadFailures);
  await runGGUFSuite(
    device,
    oracle,
    file,
    (r) => {
      tally.add(r);
      if (o.quiet && r.ok && !r.skipped) return;
      out(resultLine("gguf", r));
    },
    o.quiet ? () => {} : out,
    {
      rows,
      ...(o.maxM === undefined ? {} : { maxM: o.maxM }),
      ...(impls.length ? { impls } : {}),
    },
  );
  oracle.close();
  file.source.close?.();
  device.destroy();
  out(tally.line());
  if (tally.passed + tally.failed === 0) err(`error: ${path} has no 2-D Q5_K tensor to check`);
  return tally.failed === 0 && tally.passed > 0 ? 0 : 1;
}

export async function ggufInfo(path: string, json: boolean): Promise<number> {
  const { summarizeGGUF } = await import("../gguf/q5k_tensors.ts");
  let file;
  try {
    file = await openGGUF(path);
  } catch (error) {
    err(`error: ${(error as Error).message}`);
    return 1;
  }
  file.source.close?.();
  const s = summarizeGGUF(file);
  if (json) {
    out(JSON.stringify({ version: file.version, alignment: file.alignment, ...s }, null, 2));
    return 0;
  }
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  out(`file          ${path} (GGUF v${file.version}, ${mb(file.size)})`);
  out(`architecture  ${s.architecture}`);
  out(`tensors       ${s.tensors}`);
  for (const t of s.byType) {
    out(`  ${t.type.padEnd(8)} ${String(t.tensors).padStart(5)} tensors  ${mb(t.bytes)}`);
  }
  out(`Q5_K shapes   ${s.q5kShapes.length} distinct (N×K: tensors)`);
  for (const q of s.q5kShapes) {
    out(
      `  ${`${q.n}×${q.k}`.padEnd(12)} ${q.names.length}: ${q.names.slice(0, 4).join(", ")}${
        q.names.length > 4 ? `, … (${q.names.length - 4} more)` : ""
      }`,
    );
  }
  return 0;
}
