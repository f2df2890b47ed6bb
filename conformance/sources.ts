/**
 * Where a case's expected outputs come from: the committed vectors, or the live
 * llama.cpp oracle.
 *
 * @module
 */

import { caseActivations, caseBlob, caseIds, type ConformanceCase } from "./cases.ts";
import type { EmbeddingData, LinearData } from "./check.ts";
import { referenceLinear } from "./compare.ts";
import type { LlamaCppOracle } from "./oracle.ts";
import { loadVector, type VectorEntry } from "./vectors.ts";

/** A case's data, ready for checkLinear/checkEmbedding. */
export type CaseData = LinearData | EmbeddingData;

/** Data from a committed vector (digests verified; every array the checks need present). */
export async function vectorData(entry: VectorEntry, dir?: URL): Promise<CaseData> {
  const v = await loadVector(entry, dir);
  const c = entry.case;
  const need = (key: "blob" | "x" | "ref" | "mulMat" | "ids" | "getRows") => {
    const a = v[key];
    if (a === undefined) {
      throw new TypeError(`Vector ${entry.name}: ${key} is missing, so it cannot be compared`);
    }
    return a;
  };
  if (c.op === "linear") {
    return {
      case: c,
      blob: need("blob") as Uint8Array,
      x: need("x") as Float32Array,
      ref: need("ref") as Float64Array,
      mulMat: need("mulMat") as Float32Array,
    };
  }
  return {
    case: c,
    blob: need("blob") as Uint8Array,
    ids: need("ids") as Int32Array,
    expected: need("getRows") as Float32Array,
  };
}

/** Data computed now by llama.cpp. */
export function liveData(oracle: LlamaCppOracle, c: ConformanceCase): CaseData {
  const blob = caseBlob(c);
  if (c.op === "linear") {
    const x = caseActivations(c);
    const ref = referenceLinear(x, oracle.dequantize(blob), c.m, c.n, c.k);
    return { case: c, blob, x, ref, mulMat: oracle.mulMat(blob, c.n, c.k, x, c.m) };
  }
  const ids = caseIds(c);
  return { case: c, blob, ids, expected: oracle.getRows(blob, c.rows, c.k, ids) };
}
