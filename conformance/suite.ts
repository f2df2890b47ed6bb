/**
 * The conformance suite as `cli conform` runs it: every committed vector and,
 * where llama.cpp loads, the live cases, on every kernel variant.
 *
 * @module
 */

import { type CaseResult, checkEmbedding, checkLinear, type RunActivations } from "./check.ts";
import { readManifest } from "./vectors.ts";
import { type CaseData, liveData, vectorData } from "./sources.ts";
import { type ConformanceCase, LIVE_CASES } from "./cases.ts";
import type { LlamaCppOracle } from "./oracle.ts";
import { hasPackedDot, type LinearVariant, type Reduction } from "../kernels/linear.ts";

/**
 * Every linear variant/reduction/activations triple the device supports;
 * `"int24"` is the mat-vec on 24-bit activations (`activations: "auto"`
 * where the crossover asks for it), forced at every M (`wideMatvecM`).
 */
export function linearRuns(device: GPUDevice): [LinearVariant, Reduction, RunActivations][] {
  const runs: [LinearVariant, Reduction, RunActivations][] = [
    ["auto", "auto", "f32"],
    ["matvec", "workgroup", "f32"],
  ];
  if (device.features.has("subgroups" as GPUFeatureName)) {
    runs.push(["matvec", "subgroup", "f32"]);
  }
  runs.push(["rowlane", "auto", "f32"], ["tiled", "auto", "f32"]);
  if (hasPackedDot()) {
    runs.push(["matvec", "auto", "int24"]);
    runs.push(["matvec", "auto", "int8"], ["rowlane", "auto", "int8"], ["tiled", "auto", "int8"]);
  }
  return runs;
}

/** Runs one case on every variant. */
export async function checkCase(device: GPUDevice, data: CaseData): Promise<CaseResult[]> {
  if (data.case.op === "embedding") return [await checkEmbedding(device, data as never)];
  const out: CaseResult[] = [];
  for (const [variant, reduction, activations] of linearRuns(device)) {
    out.push(await checkLinear(device, data as never, variant, reduction, activations));
  }
  return out;
}

/**
 * Runs the suite, calling `onResult` as each result arrives.
 *
 * @param oracle The live oracle, or null to use only the committed vectors.
 * @param maxM Only linear cases of M at most this (embedding cases always).
 */
export async function runSuite(
  device: GPUDevice,
  oracle: LlamaCppOracle | null,
  onResult: (source: "vector" | "live", r: CaseResult) => void,
  maxM = Infinity,
): Promise<CaseResult[]> {
  const wanted = (c: ConformanceCase) => c.op !== "linear" || c.m <= maxM;
  const all: CaseResult[] = [];
  for (const entry of (await readManifest()).cases.filter((e) => wanted(e.case))) {
    for (const r of await checkCase(device, await vectorData(entry))) {
      all.push(r);
      onResult("vector", r);
    }
  }
  if (oracle) {
    for (const c of LIVE_CASES.filter(wanted)) {
      for (const r of await checkCase(device, liveData(oracle, c))) {
        all.push(r);
        onResult("live", r);
      }
    }
  }
  return all;
}
