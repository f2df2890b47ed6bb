/**
 * The conformance suite as `cli conform` runs it: every committed vector and,
 * where llama.cpp loads, the live cases, on every kernel variant.
 *
 * @module
 */

import {
  type CaseResult,
  checkEmbedding,
  checkLinear,
  type EmbeddingData,
  type LinearData,
} from "./check.ts";
import type { Implementation } from "../kernels/implementation.ts";
import { q5kImplementation, type Q5KImplementationOptions } from "../kernels/q5k_implementation.ts";
import { readManifest, type VectorEntry } from "./vectors.ts";
import { type CaseData, liveData, vectorData } from "./sources.ts";
import { caseName, type ConformanceCase, LIVE_CASES, VECTOR_CASES } from "./cases.ts";
import type { LlamaCppOracle } from "./oracle.ts";
import { hasPackedDot } from "../kernels/linear.ts";

/**
 * This library's runs, as implementations: `auto`, each forced family and
 * mat-vec reduction the device supports, and where WGSL has `dot4I8Packed`
 * the 24-bit mat-vec (forced at every M) and the int8 path of each family.
 * Only the first carries the embedding table (every run shares one gather).
 */
export function ourImplementations(device: GPUDevice): Implementation[] {
  const runs: Q5KImplementationOptions[] = [
    {},
    { variant: "matvec", reduction: "workgroup", activations: "f32" },
  ];
  // Listed wherever subgroups are granted; skipped with the reason where the
  // butterflies cannot use them (subgroups not laid over consecutive lanes).
  if (device.features.has("subgroups" as GPUFeatureName)) {
    runs.push({ variant: "matvec", reduction: "subgroup", activations: "f32" });
  }
  runs.push({ variant: "rowlane", activations: "f32" }, { variant: "tiled", activations: "f32" });
  if (hasPackedDot()) {
    runs.push({ variant: "matvec", activations: "int24" });
    for (const variant of ["matvec", "rowlane", "tiled"] as const) {
      runs.push({ variant, activations: "int8" });
    }
  }
  return runs.map((o, i) => {
    const impl = q5kImplementation(o);
    return i === 0 ? impl : { ...impl, embedding: undefined };
  });
}

/** Why `impl` cannot run on `device` (missing features, or its own reason), or null. */
export function whyNot(device: GPUDevice, impl: Implementation): string | null {
  const missing = (impl.features ?? []).filter((f) => !device.features.has(f));
  if (missing.length) return `needs ${missing.join(", ")}, which this device lacks`;
  return impl.unsupported?.(device) ?? null;
}

/** Runs one case on every implementation that has its op; one failure line per implementation that throws. */
export async function checkCase(
  device: GPUDevice,
  data: CaseData,
  impls: readonly Implementation[] = ourImplementations(device),
): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  const linear = data.case.op === "linear";
  for (const impl of impls) {
    if (!(linear ? impl.linear : impl.embedding)) continue;
    const name = caseName(data.case);
    const reason = whyNot(device, impl);
    if (reason) {
      out.push({ ...failure(name, reason), variant: impl.name, skipped: true });
      continue;
    }
    try {
      out.push(
        linear
          ? await checkLinear(device, data as LinearData, impl)
          : await checkEmbedding(device, data as EmbeddingData, impl),
      );
    } catch (error) {
      out.push({ ...failure(name, `${impl.name} threw: ${message(error)}`), variant: impl.name });
    }
  }
  return out;
}

/** Options of {@linkcode runSuite}. */
export interface SuiteOptions {
  /** Only linear cases of M at most this (embedding cases always). */
  maxM?: number;
  /** The vectors folder; the committed one by default. */
  dir?: URL;
  /** Only cases this accepts (tests use it to keep runs short). */
  only?: (c: ConformanceCase) => boolean;
  /** The implementations to check; this library's runs by default. */
  impls?: readonly Implementation[];
}

/** A result for something that could not be checked: always a failure. */
export function failure(name: string, detail: string): CaseResult {
  const none = { ok: false, nmse: NaN, maxUlp: NaN, detail };
  return { name, variant: "-", ok: false, primary: none, detail };
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Runs the suite, calling `onResult` as each result arrives. Nothing stops it
 * early: an unreadable manifest, a case missing from it, a malformed entry, a
 * corrupt or missing `.bin` or an array that fails its digest is one failed
 * result naming what is wrong, and the run goes on.
 *
 * @param oracle The live oracle, or null to use only the committed vectors.
 */
export async function runSuite(
  device: GPUDevice,
  oracle: LlamaCppOracle | null,
  onResult: (source: "vector" | "live", r: CaseResult) => void,
  options: SuiteOptions = {},
): Promise<CaseResult[]> {
  const maxM = options.maxM ?? Infinity;
  const wanted = (c: ConformanceCase) =>
    (c.op !== "linear" || c.m <= maxM) && (options.only?.(c) ?? true);
  const all: CaseResult[] = [];
  const emit = (source: "vector" | "live", r: CaseResult) => {
    all.push(r);
    onResult(source, r);
  };
  const run = async (source: "vector" | "live", name: string, load: () => Promise<CaseData>) => {
    let data: CaseData;
    try {
      data = await load();
    } catch (error) {
      emit(source, failure(name, message(error)));
      return;
    }
    try {
      for (const r of await checkCase(device, data, options.impls)) emit(source, r);
    } catch (error) {
      emit(source, failure(name, `could not run: ${message(error)}`));
    }
  };
  let entries: VectorEntry[] = [];
  try {
    entries = manifestEntries(await readManifest(options.dir));
  } catch (error) {
    emit("vector", failure("manifest.json", message(error)));
  }
  const listed = new Set(entries.map((e) => e.name));
  for (const c of VECTOR_CASES.filter(wanted)) {
    if (!listed.has(caseName(c))) {
      emit("vector", failure(caseName(c), "missing from manifest.json (a committed case)"));
    }
  }
  for (const entry of entries) {
    let valid: VectorEntry;
    try {
      valid = checkEntry(entry);
    } catch (error) {
      emit("vector", failure(String(entry?.name ?? "manifest entry"), message(error)));
      continue;
    }
    if (!wanted(valid.case)) continue;
    await run("vector", valid.name, () => vectorData(valid, options.dir));
  }
  if (oracle) {
    for (const c of LIVE_CASES.filter(wanted)) {
      await run("live", caseName(c), () => Promise.resolve(liveData(oracle, c)));
    }
  }
  return all;
}

/** The manifest's cases, or a TypeError saying what is malformed. */
function manifestEntries(manifest: unknown): VectorEntry[] {
  const cases = (manifest as { cases?: unknown } | null)?.cases;
  if (!Array.isArray(cases)) {
    throw new TypeError("manifest.json must hold a cases array, current value has none");
  }
  if (cases.length === 0) {
    throw new RangeError(
      `manifest.json must list the ${VECTOR_CASES.length} committed cases, current value lists 0`,
    );
  }
  return cases as VectorEntry[];
}

/** One manifest entry, checked for the fields the loader reads. */
function checkEntry(entry: VectorEntry): VectorEntry {
  const e = entry as unknown as Record<string, unknown> | null;
  const c = e?.case as Record<string, unknown> | undefined;
  const problem = !e || typeof e !== "object"
    ? "is not an object"
    : typeof e.name !== "string"
    ? "has no name"
    : typeof e.file !== "string"
    ? "has no file"
    : !e.arrays || typeof e.arrays !== "object"
    ? "has no arrays"
    : !c || (c.op !== "linear" && c.op !== "embedding")
    ? "has no case with op linear or embedding"
    : null;
  if (problem) throw new TypeError(`manifest entry ${problem}`);
  const name = caseName(entry.case);
  if (name !== entry.name) {
    throw new TypeError(`manifest entry's case is ${name}, which its name does not match`);
  }
  return entry;
}

/** One result as `conform` prints it (the browser page prints the same). */
export function resultLine(source: "vector" | "live" | "gguf", r: CaseResult): string {
  if (r.skipped) return `skip ${source.padEnd(6)} ${r.name} [${r.variant}]: ${r.detail}`;
  const nmse = (v: number) => (v === 0 ? "0" : v.toExponential(2));
  const figure = r.variant === "-"
    ? "not checked"
    : r.llama
    ? `NMSE ${nmse(r.primary.nmse)} vs f64, ${nmse(r.llama.nmse)} vs llama.cpp`
    : `max ${r.primary.maxUlp} ulp vs llama.cpp`;
  return `${r.ok ? "ok  " : "FAIL"} ${source.padEnd(6)} ${r.name} [${r.variant}] ${figure}${
    r.ok ? "" : `: ${r.detail}`
  }`;
}

/** Counts results as they arrive, for the closing line. */
export class Tally {
  passed = 0;
  skipped = 0;
  /** @param failed Failures counted before any result (e.g. modules that did not load). */
  constructor(public failed = 0) {}
  /** Counts one result. */
  add(r: CaseResult): void {
    if (r.skipped) this.skipped++;
    else if (r.ok) this.passed++;
    else this.failed++;
  }
  /** The closing line: {@linkcode summaryLine} of the counts. */
  line(): string {
    return summaryLine(this.passed, this.failed, this.skipped);
  }
}

/** The closing line of a conformance run. */
export function summaryLine(passed: number, failed: number, skipped: number): string {
  return `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`;
}
