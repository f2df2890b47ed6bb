/**
 * kquant-webgpu's command line: `bench`, `conform`, `info`.
 *
 * @module
 */

import { helpFor, parseCommand, UsageError } from "./args.ts";
import { missingPermission } from "./permissions.ts";
import { benchProblems } from "../bench/preflight.ts";
import { loadImplementation } from "./load_impl.ts";
import type { Implementation } from "../kernels/implementation.ts";
import type { BenchOptions, ConformOptions, InfoOptions } from "./args.ts";
import { err, NoAdapterError, openDevice, out } from "./_io.ts";
import { type BenchGGUF, conformGGUF, ggufInfo, openBenchGGUF } from "./gguf_commands.ts";
import {
  type BenchConfig,
  DEFAULT_EMBEDDING,
  DEFAULT_MS,
  DEFAULT_SHAPES,
  isSoftwareAdapter,
  runBench,
  SOFTWARE_EMBEDDING,
  SOFTWARE_MS,
  SOFTWARE_SHAPES,
} from "../bench/sweep.ts";
import {
  crossoverText,
  formatCsv,
  formatHeader,
  formatJson,
  formatTable,
} from "../bench/report.ts";
import { renderChart } from "../bench/chart.ts";
import { probeDevice } from "../bench/probe.ts";
import { measureUpload } from "../bench/gguf_plan.ts";
import { EMBEDDING_TENSOR } from "../gguf/q5k_tensors.ts";
import { formatGGUF, uploadLine } from "../bench/gguf_report.ts";

/** Free host memory, where Deno may tell (it needs --allow-sys), else unknown. */
function hostMemory(): number {
  try {
    return Deno.systemMemoryInfo().available;
  } catch {
    return Infinity;
  }
}

/** Null when `path` can be written (a file it creates for the check is removed), else why not. */
async function unwritable(path: string): Promise<string | null> {
  let existed = true;
  try {
    await Deno.lstat(path);
  } catch {
    existed = false;
  }
  try {
    const file = await Deno.open(path, { write: true, create: true });
    file.close();
    if (!existed) await Deno.remove(path);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

async function bench(o: BenchOptions): Promise<number> {
  for (const [flag, path] of [["--out", o.out], ["--chart", o.chart]] as const) {
    const why = path === undefined ? null : await unwritable(path);
    if (why) {
      err(`error: ${flag} ${path} cannot be written (${why}); nothing was run`);
      return 2;
    }
  }
  const impls: Implementation[] = [];
  for (const source of o.impls) {
    const loaded = await loadImplementation(source);
    if (!("impl" in loaded)) {
      err(`error: --impl ${source}: ${loaded.error}; nothing was run`);
      return 2;
    }
    impls.push(loaded.impl);
  }
  let gguf: BenchGGUF | null = null;
  if (o.gguf !== undefined) {
    try {
      gguf = await openBenchGGUF(o.gguf);
    } catch (error) {
      err(`error: --gguf ${o.gguf}: ${(error as Error).message}; nothing was run`);
      return 1;
    }
  }
  if (
    gguf && !(o.ops.includes("linear") && gguf.plan.shapes.length) &&
    !(o.ops.includes("embedding") && gguf.plan.embedding)
  ) {
    const types = [...new Set(gguf.plan.skipped.map((t) => t.type))].join(", ");
    err(
      `error: --gguf ${o.gguf} has no 2-D Q5_K tensor for --op ${
        o.ops.join(",")
      } (its other tensors: ${types || "none"}); nothing was run`,
    );
    gguf.file.source.close?.();
    return 1;
  }
  const { adapter, device } = await openDevice(o.backend);
  const software = isSoftwareAdapter(adapter);
  const counts = o.ids ?? (software ? SOFTWARE_EMBEDDING.counts : DEFAULT_EMBEDDING.counts);
  const ggufOps = gguf && !gguf.plan.embedding ? o.ops.filter((op) => op !== "embedding") : o.ops;
  const config: BenchConfig = {
    shapes: gguf?.plan.shapes ?? o.shapes ?? (software ? SOFTWARE_SHAPES : DEFAULT_SHAPES),
    ms: o.ms ?? (software ? SOFTWARE_MS : DEFAULT_MS),
    ops: ggufOps,
    variants: o.variants,
    embedding: gguf?.plan.embedding
      ? { ...gguf.plan.embedding, counts }
      : { ...(o.table ?? (software ? SOFTWARE_EMBEDDING : DEFAULT_EMBEDDING)), counts },
    measure: {
      minTimeMs: o.minTimeMs ?? (software ? 100 : 1000),
      maxIters: o.iters ?? 100000,
      warmup: 10,
      warmupMs: software ? 10 : 200,
    },
    dense: o.dense,
    vsLlamaCpp: o.vsLlamaCpp,
    ggmlLib: o.ggmlLib,
    forceWallClock: o.wallClock,
    impls,
  };
  const problems = benchProblems(device, config, hostMemory());
  if (problems.length > 0) {
    for (const p of problems) err(`error: ${p}`);
    err("nothing was timed; pick smaller shapes or M (see info for the device's limits)");
    device.destroy();
    return 2;
  }
  const scaledDown = software &&
    (gguf
      ? !o.ms || o.minTimeMs === undefined
      : !o.shapes || !o.ms || !o.table || o.minTimeMs === undefined);
  if (scaledDown && !o.quiet) {
    err(
      "software adapter: defaults scaled down (smaller shapes, fewer M, 0.1 s per case) to finish in about a minute",
    );
  }
  const started = performance.now();
  const progress = o.quiet ? () => {} : err;
  let upload;
  if (gguf) {
    if (!gguf.plan.embedding && o.ops.includes("embedding")) {
      progress(`no Q5_K ${EMBEDDING_TENSOR} in ${o.gguf}: no embedding to time`);
    }
    progress(`uploading the file's ${gguf.plan.q5k.length} Q5_K tensors one at a time…`);
    upload = await measureUpload(device, gguf.file, gguf.plan.q5k);
    progress(uploadLine(upload));
  }
  const report = await runBench(device, adapter, config, progress);
  report.scaledDown = scaledDown;
  if (gguf && upload) {
    report.gguf = {
      file: o.gguf!,
      architecture: gguf.plan.architecture,
      shapes: gguf.plan.shapes.map(({ n, k, names }) => ({ n, k, names: names! })),
      ...(gguf.plan.embedding ? { embedding: gguf.plan.embedding.name } : {}),
      skipped: gguf.plan.skipped,
      upload,
      headerMs: gguf.headerMs,
    };
  }
  gguf?.file.source.close?.();
  const text = o.format === "json"
    ? formatJson(report)
    : o.format === "csv"
    ? formatCsv(report)
    : `${formatHeader(report)}\n\n${formatTable(report)}\n${
      report.gguf ? `\n${formatGGUF(report)}\n` : ""
    }`;
  device.destroy();
  let failed: string | null = null;
  for (const [path, body] of [[o.out, text], [o.chart, renderChart(report)]] as const) {
    if (path === undefined) continue;
    try {
      await Deno.writeTextFile(path, body);
      if (!o.quiet) err(`wrote ${path}`);
    } catch (error) {
      failed ??= `could not write ${path}: ${(error as Error).message}`;
    }
  }
  if (!o.out || failed) Deno.stdout.writeSync(new TextEncoder().encode(text));
  if (!o.quiet) err(`bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (failed) {
    err(`error: ${failed}; the results are on stdout above`);
    return 1;
  }
  return 0;
}

async function conform(o: ConformOptions): Promise<number> {
  const impls: Implementation[] = [];
  let loadFailures = 0;
  for (const source of o.impls) {
    const loaded = await loadImplementation(source);
    if ("impl" in loaded) impls.push(loaded.impl);
    else {
      out(`FAIL load   ${source}: ${loaded.error}`);
      loadFailures++;
    }
  }
  if (o.impls.length > 0 && impls.length === 0) {
    out(`0 passed, ${loadFailures} failed`);
    return 1;
  }
  if (o.gguf !== undefined) return await conformGGUF(o, o.gguf, impls, loadFailures);
  const { device } = await openDevice(o.backend);
  const { resultLine, runSuite, Tally } = await import("../conformance/suite.ts");
  let oracle = null;
  if (!o.vectorsOnly) {
    const { loadLlamaCpp } = await import("../conformance/oracle.ts");
    try {
      oracle = await loadLlamaCpp();
    } catch (error) {
      err(
        `live llama.cpp unavailable, running the committed vectors only: ${
          (error as Error).message
        }`,
      );
    }
  }
  const tally = new Tally(loadFailures);
  await runSuite(device, oracle, (source, r) => {
    tally.add(r);
    if (o.quiet && r.ok && !r.skipped) return;
    out(resultLine(source, r));
  }, { maxM: o.maxM, ...(impls.length ? { impls } : {}) });
  oracle?.close();
  device.destroy();
  out(tally.line());
  return tally.failed === 0 ? 0 : 1;
}

async function info(o: InfoOptions): Promise<number> {
  if (o.gguf !== undefined) return await ggufInfo(o.gguf, o.json);
  const { adapter, device } = await openDevice(o.backend);
  const i = await probeDevice(adapter, device);
  device.destroy();
  if (o.json) {
    out(JSON.stringify(i, null, 2));
    return 0;
  }
  const a = i.adapter;
  const lines: [string, string][] = [
    [
      "adapter",
      `${a.description || a.device || "(no description)"}${i.software ? " (software)" : ""}`,
    ],
    ["vendor", a.vendor || "-"],
    ["architecture", a.architecture || "-"],
    ["backend", i.backend],
    ["features", i.features.join(", ") || "none"],
    ...Object.entries(i.limits).map(([k, v]) =>
      [k, new Intl.NumberFormat("en").format(v)] as [string, string]
    ),
    [
      "subgroups",
      i.subgroups.granted
        ? `granted, size ${i.subgroups.measuredSize}${
          i.subgroups.minSize
            ? ` (adapter range ${i.subgroups.minSize}..${i.subgroups.maxSize})`
            : ""
        }${
          i.subgroups.consecutive
            ? ", consecutive lanes"
            : ", non-consecutive lanes (workgroup-memory reductions)"
        }`
        : "not granted (workgroup-memory reductions)",
    ],
    [
      "timestamps",
      i.timestamps.available
        ? (i.timestamps.advancing
          ? "timestamp-query works"
          : "timestamp-query present but not advancing")
        : "no timestamp-query (bench uses wall clock)",
    ],
    ["crossover", crossoverText(i.crossover)],
    [
      "int8",
      i.int8
        ? 'activations: "int8" available (WGSL dot4I8Packed)'
        : 'activations: "int8" unavailable (no WGSL packed_4x8_integer_dot_product)',
    ],
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) out(`${k.padEnd(w)}  ${v}`);
  return 0;
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      const topic = ["bench", "conform", "info", "serve"].includes(argv[0]) ? ` ${argv[0]}` : "";
      err(`error: ${error.message}\nrun 'deno run -A cli/main.ts${topic} --help' for the flags`);
      return 2;
    }
    throw error;
  }
  if (command.command !== "help") {
    const missing = missingPermission(command);
    if (missing) {
      err(`error: ${missing}`);
      return 2;
    }
  }
  try {
    switch (command.command) {
      case "help":
        out(helpFor(command.topic));
        return 0;
      case "bench":
        return await bench(command.options);
      case "conform":
        return await conform(command.options);
      case "info":
        return await info(command.options);
      case "serve": {
        const { servePage } = await import("./serve.ts");
        await servePage(command.options.port, (url) => {
          out(`serving the page at ${url} (open it in a browser with WebGPU; Ctrl-C stops)`);
          out(`  ${url}?run=conform runs the conformance suite, ${url}?run=bench the bench`);
        });
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof NoAdapterError) {
      err(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
