/**
 * Conformance cases as plain objects: the same list drives `deno test`,
 * `cli conform` and the committed llama.cpp vectors.
 *
 * @module
 */

import { makeQ5KBlob, type Q5KBlobMode } from "../kernels/make_blob.ts";
import { quantizeQ5K } from "../kernels/quantize.ts";
import { mulberry32, normalF32, uniformF32 } from "../kernels/_rng.ts";

/**
 * What a linear case's activations hold (default `"uniform"`, uniform[-1, 1)
 * as test-backend-ops uses):
 * - `"outliers"`: N(0, 1) with six channels ×60, as LLM activations have;
 * - `"tiny"`: uniform ×1e-33, below where per-32 scales underflow;
 * - `"huge"`: uniform ×1e36, where a factored min term overflows f32;
 * - `"spike"`: uniform with one value of 1e38 in each row;
 * - `"subnormal"`: uniform ×1e-30 with every other value subnormal (×1e-40).
 */
export type XKind = "uniform" | "outliers" | "tiny" | "huge" | "spike" | "subnormal";

/** Weights from a blob mode, or `"llm"`: llama.cpp-quantized rows with log-normal scales and 0.1% ×8 outliers. */
export type WeightKind = Q5KBlobMode | "llm";

/** y = x·Wᵀ with an N×K Q5_K weight and M×K activations. */
export interface LinearCase {
  op: "linear";
  m: number;
  n: number;
  k: number;
  mode: WeightKind;
  seed: number;
  /** The activations' kind; absent means `"uniform"`. */
  x?: XKind;
}

/** Activation kinds outside 2⁻⁶⁴…2⁶⁴ per row, which only `run()` rescales (see kernels/_row_scale.ts). */
export const EXTREME_X: readonly XKind[] = ["tiny", "huge", "spike", "subnormal"];

/** Rows `ids` of a rows×K Q5_K table. */
export interface EmbeddingCase {
  op: "embedding";
  rows: number;
  k: number;
  ids: number;
  mode: Q5KBlobMode;
  seed: number;
}

/** Either kind of case. */
export type ConformanceCase = LinearCase | EmbeddingCase;

/** A printable name like `linear(q5_K, m=8, n=4096, k=14336, random, seed=1)`. */
export function caseName(c: ConformanceCase): string {
  return c.op === "linear"
    ? `linear(q5_K, m=${c.m}, n=${c.n}, k=${c.k}, ${c.mode}${
      c.x ? `, x=${c.x}` : ""
    }, seed=${c.seed})`
    : `embedding(q5_K, rows=${c.rows}, k=${c.k}, ids=${c.ids}, ${c.mode}, seed=${c.seed})`;
}

/** A file-system friendly form of {@linkcode caseName}. */
export function caseSlug(c: ConformanceCase): string {
  return c.op === "linear"
    ? `linear_m${c.m}_n${c.n}_k${c.k}_${c.mode}${c.x ? `_x${c.x}` : ""}_s${c.seed}`
    : `embedding_r${c.rows}_k${c.k}_i${c.ids}_${c.mode}_s${c.seed}`;
}

/** The weight or table blob of a case, regenerated from its seed. */
export function caseBlob(c: ConformanceCase): Uint8Array {
  const rows = c.op === "linear" ? c.n : c.rows;
  if (c.mode === "llm") return quantizeQ5K(llmWeights(rows, c.k, c.seed));
  return makeQ5KBlob(rows, c.k, { seed: c.seed, mode: c.mode });
}

/**
 * Weights shaped like an LLM's: N(0, 0.02) rows scaled by a log-normal factor
 * (σ = 0.5) each, with 0.1% of the values ×8.
 */
export function llmWeights(rows: number, k: number, seed: number): Float32Array {
  const w = normalF32(rows * k, seed);
  const scales = normalF32(rows, (seed ^ 0x51ed270b) >>> 0);
  const rand = mulberry32((seed ^ 0x2545f491) >>> 0);
  for (let r = 0; r < rows; r++) {
    const s = 0.02 * Math.exp(0.5 * scales[r]);
    for (let i = r * k; i < (r + 1) * k; i++) w[i] *= rand() < 0.001 ? 8 * s : s;
  }
  return w;
}

/** The activations of a linear case (see {@linkcode XKind}). */
export function caseActivations(c: LinearCase): Float32Array {
  const seed = (c.seed ^ 0x9e3779b9) >>> 0;
  const length = c.m * c.k;
  const x = c.x === "outliers" ? normalF32(length, seed) : uniformF32(length, seed);
  switch (c.x ?? "uniform") {
    case "outliers": {
      const rand = mulberry32((seed ^ 0x68e31da4) >>> 0);
      const channels = Array.from({ length: 6 }, () => Math.floor(rand() * c.k));
      for (let r = 0; r < c.m; r++) for (const ch of channels) x[r * c.k + ch] *= 60;
      break;
    }
    case "tiny":
      for (let i = 0; i < length; i++) x[i] *= 1e-33;
      break;
    case "huge":
      for (let i = 0; i < length; i++) x[i] *= 1e36;
      break;
    case "spike":
      for (let r = 0; r < c.m; r++) x[r * c.k + ((r * 97 + 13) % c.k)] = 1e38;
      break;
    case "subnormal":
      for (let i = 0; i < length; i++) x[i] *= i % 2 ? 1e-40 : 1e-30;
      break;
  }
  return x;
}

/** The ids of an embedding case: the last and first rows, then seeded picks (repeats allowed). */
export function caseIds(c: EmbeddingCase): Int32Array {
  const rand = mulberry32((c.seed ^ 0x85ebca6b) >>> 0);
  const ids = new Int32Array(c.ids);
  for (let i = 0; i < ids.length; i++) {
    ids[i] = i === 0 ? c.rows - 1 : i === 1 ? 0 : Math.floor(rand() * c.rows);
  }
  return ids;
}

function linear(
  m: number,
  n: number,
  k: number,
  mode: WeightKind,
  seed: number,
  x?: XKind,
): LinearCase {
  return x ? { op: "linear", m, n, k, mode, seed, x } : { op: "linear", m, n, k, mode, seed };
}

function embedding(
  rows: number,
  k: number,
  ids: number,
  mode: Q5KBlobMode,
  seed: number,
): EmbeddingCase {
  return { op: "embedding", rows, k, ids, mode, seed };
}

/**
 * The cases committed as llama.cpp vectors: llama.cpp test-backend-ops' Q5_K
 * shapes, executorch's seed shapes, ragged N, M from 1 to 130, every blob mode.
 */
export const VECTOR_CASES: readonly ConformanceCase[] = [
  // test-backend-ops MUL_MAT: 16 rows, 1..9 columns, K 256; and (1, 64, 256).
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((m) => linear(m, 16, 256, "quantized", 100 + m)),
  linear(64, 1, 256, "quantized", 110),
  // executorch's seed shapes (M, N, K), random bytes with d = dmin = 7e-4.
  linear(1, 256, 256, "random", 120),
  linear(1, 512, 1024, "random", 121),
  linear(8, 512, 512, "random", 122),
  linear(128, 512, 512, "random", 123),
  linear(40, 300, 256, "random", 124),
  linear(1, 5376, 5376, "random", 125),
  // Ragged N and M up to 130, every mode, all edge kinds.
  linear(130, 300, 512, "quantized", 130),
  linear(17, 33, 768, "edge", 131),
  linear(3, 24, 256, "edge", 132),
  linear(2, 257, 256, "edge", 133),
  linear(5, 100, 1024, "edge", 134),
  linear(65, 48, 256, "edge", 135),
  linear(33, 64, 512, "quantized", 136),
  linear(100, 20, 512, "random", 137),
  linear(1, 16, 4096, "edge", 138),
  // LLM-like weights and activations with outlier channels (the int8 path's
  // bound is relative to the ideal per-32 scheme on them), M at every family.
  linear(1, 256, 4096, "llm", 140, "outliers"),
  linear(8, 256, 4096, "llm", 141, "outliers"),
  linear(40, 64, 4096, "llm", 142, "outliers"),
  // Finite extremes: every family and activation path, through run().
  ...(["tiny", "huge", "spike", "subnormal"] as const).flatMap((x, i) => [
    linear(1, 16, 512, "quantized", 150 + 2 * i, x),
    linear(9, 40, 512, "quantized", 151 + 2 * i, x),
  ]),
  // test-backend-ops GET_ROWS: 256 columns, 5 rows, 4 ids, batch 1 and 7.
  embedding(5, 256, 4, "quantized", 200),
  embedding(5, 256, 28, "quantized", 201),
  // executorch's seed shapes: vocab 512/300/2048, K 256/1024/5376.
  embedding(512, 256, 1, "random", 210),
  embedding(300, 1024, 8, "random", 211),
  embedding(2048, 5376, 4, "random", 212),
  embedding(512, 256, 16, "random", 213),
  embedding(300, 1024, 6, "quantized", 214),
  embedding(24, 512, 24, "edge", 215),
];

/**
 * Cases run against the live oracle: a sample of M ∈ {1,2,3,4,5,7,8,9,16,33,64,128},
 * N ∈ {16,256,300,512}, K ∈ {256,512,1024,4096} that reaches every kernel path
 * (mat-vec column counts 1..8 and column groups, both tiled tile heights),
 * ragged tile edges and every blob mode.
 */
export const LIVE_CASES: readonly ConformanceCase[] = [
  linear(1, 16, 256, "quantized", 300),
  linear(2, 256, 512, "edge", 301),
  linear(3, 300, 1024, "random", 302),
  linear(4, 512, 4096, "quantized", 303),
  linear(5, 300, 256, "edge", 304),
  linear(7, 16, 1024, "quantized", 305),
  linear(8, 512, 512, "random", 306),
  linear(9, 256, 4096, "edge", 307),
  linear(16, 300, 512, "quantized", 308),
  linear(33, 16, 256, "edge", 309),
  linear(64, 512, 1024, "random", 310),
  linear(128, 256, 512, "quantized", 311),
  linear(1, 512, 4096, "edge", 312),
  linear(33, 300, 4096, "random", 313),
  linear(128, 300, 256, "edge", 314),
  embedding(300, 4096, 33, "edge", 320),
  embedding(512, 1024, 128, "quantized", 321),
  embedding(16, 256, 9, "random", 322),
];
