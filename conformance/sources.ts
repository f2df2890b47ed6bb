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

/** Data from a committed vector (digests verified). */
export async function vectorData(entry: VectorEntry): Promise<CaseData> {
  const v = await loadVector(entry);
  const c = entry.case;
  if (c.op === "linear") {
    return { case: c, blob: v.blob, x: v.x!, ref: v.ref!, mulMat: v.mulMat! };
  }
  return { case: c, blob: v.blob, ids: v.ids!, expected: v.getRows! };
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
