/**
 * `conform --gguf FILE`: the conformance check on a real file's weights.
 * Every 2-D Q5_K tensor runs through every implementation as a linear layer
 * at M = 1, 8 and 64 against the f64 reference over llama.cpp's
 * `dequantize_row_q5_K` and against llama.cpp's `ggml_mul_mat`, with the
 * bounds of the committed cases (check.ts); `token_embd` (when Q5_K) runs as
 * an embedding against `dequantize_row_q5_K` of the rows looked up. A tensor
 * of more rows than asked is checked on a seeded sample of its rows (rows
 * are independent in y = x·Wᵀ, so a sample is a smaller real weight).
 *
 * @module
 */

import type { CaseResult, EmbeddingData, LinearData } from "./check.ts";
import {
  caseActivations,
  caseIds,
  type EmbeddingCase,
  type LinearCase,
  type XKind,
} from "./cases.ts";
import { referenceLinear } from "./compare.ts";
import type { LlamaCppOracle } from "./oracle.ts";
import { checkCase, failure } from "./suite.ts";
import type { Implementation } from "../kernels/implementation.ts";
import { mulberry32 } from "../kernels/_rng.ts";
import { type GGUFFile, type GGUFTensorInfo, readTensor } from "../gguf/reader.ts";
import { EMBEDDING_TENSOR, q5kShape } from "../gguf/q5k_tensors.ts";

/** The linear runs per tensor: M and the activations' kind (LLM-like outlier channels at M = 8). */
export const GGUF_LINEAR_RUNS: readonly { m: number; x: XKind }[] = [
  { m: 1, x: "uniform" },
  { m: 8, x: "outliers" },
  { m: 64, x: "uniform" },
];
/** Rows checked per tensor unless asked otherwise; larger tensors get a seeded sample. */
export const GGUF_DEFAULT_ROWS = 256;
/** Ids looked up in the embedding check (the first and last row among them). */
export const GGUF_EMBEDDING_IDS = 64;

/** Options of {@linkcode runGGUFSuite}. */
export interface GGUFSuiteOptions {
  /** Rows checked per tensor (Infinity: all); default {@linkcode GGUF_DEFAULT_ROWS}. */
  rows?: number;
  /** Seed of the row samples, activations and ids. */
  seed?: number;
  /** Only linear runs of M at most this. */
  maxM?: number;
  /** The implementations to check (this library's runs by default). */
  impls?: readonly Implementation[];
}

/**
 * `count` distinct rows of `n`, seeded, ascending, always holding the first
 * and the last; null where `count` covers them all.
 */
export function sampleRows(n: number, count: number, seed: number): number[] | null {
  if (count >= n) return null;
  const rand = mulberry32(seed);
  const picked = new Set([0, n - 1]);
  while (picked.size < count) picked.add(Math.floor(rand() * n));
  return [...picked].sort((a, b) => a - b);
}

/** The bytes of `rows` of a Q5_K tensor, in order (runs of adjacent rows read at once). */
export async function readRows(
  file: GGUFFile,
  tensor: GGUFTensorInfo,
  rows: number[],
): Promise<Uint8Array> {
  const rowBytes = tensor.bytes / q5kShape(tensor).n;
  const out = new Uint8Array(rows.length * rowBytes);
  for (let i = 0; i < rows.length;) {
    let j = i + 1;
    while (j < rows.length && rows[j] === rows[j - 1] + 1) j++;
    const at = file.dataOffset + tensor.offset + rows[i] * rowBytes;
    const bytes = await file.source.read(at, (j - i) * rowBytes);
    if (bytes.length !== (j - i) * rowBytes) {
      throw new RangeError(`Cannot read GGUF tensor ${tensor.name}: rows ${rows[i]}… end early`);
    }
    out.set(bytes, i * rowBytes);
    i = j;
  }
  return out;
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Checks every 2-D Q5_K tensor of `file`; `onNote` gets one line per tensor
 * (its shape and which rows), `onResult` each result, named
 * `gguf(<tensor>, m=…, rows …)`. A tensor that cannot be read is one failed
 * result, and the run goes on.
 */
export async function runGGUFSuite(
  device: GPUDevice,
  oracle: LlamaCppOracle,
  file: GGUFFile,
  onResult: (r: CaseResult) => void,
  onNote: (line: string) => void,
  options: GGUFSuiteOptions = {},
): Promise<CaseResult[]> {
  const rowsWanted = options.rows ?? GGUF_DEFAULT_ROWS;
  const seed = options.seed ?? 1;
  const maxM = options.maxM ?? Infinity;
  const all: CaseResult[] = [];
  const emit = (name: string, results: CaseResult[]) => {
    for (const r of results) {
      const named = { ...r, name };
      all.push(named);
      onResult(named);
    }
  };
  const tensors = file.tensors.filter((t) => t.typeName === "Q5_K");
  for (const [index, tensor] of tensors.entries()) {
    let shape: { n: number; k: number };
    try {
      shape = q5kShape(tensor);
    } catch (error) {
      onNote(`skip ${tensor.name}: ${message(error)}`);
      continue;
    }
    const { n, k } = shape;
    const sample = sampleRows(n, rowsWanted, seed + index);
    const rows = sample?.length ?? n;
    const which = sample ? `rows ${rows} of ${n}, seed ${seed + index}` : `all ${n} rows`;
    onNote(`tensor ${tensor.name}: ${n}×${k} Q5_K, checking ${which}`);
    let blob: Uint8Array;
    let w: Float32Array;
    try {
      blob = sample ? await readRows(file, tensor, sample) : await readTensor(file, tensor);
      w = oracle.dequantize(blob);
    } catch (error) {
      emit(`gguf(${tensor.name})`, [failure(`gguf(${tensor.name})`, message(error))]);
      continue;
    }
    for (const run of GGUF_LINEAR_RUNS.filter((r) => r.m <= maxM)) {
      const name = `gguf(${tensor.name}, m=${run.m}, x=${run.x}, ${which})`;
      const c: LinearCase = { op: "linear", m: run.m, n: rows, k, mode: "random", seed, x: run.x };
      try {
        const x = caseActivations(c);
        const data: LinearData = {
          case: c,
          blob,
          x,
          ref: referenceLinear(x, w, run.m, rows, k),
          mulMat: oracle.mulMat(blob, rows, k, x, run.m),
        };
        emit(name, await checkCase(device, data, options.impls));
      } catch (error) {
        emit(name, [failure(name, `could not run: ${message(error)}`)]);
      }
    }
    if (tensor.name === EMBEDDING_TENSOR) {
      const count = Math.min(GGUF_EMBEDDING_IDS, n);
      const name = `gguf(${tensor.name} as embedding, ids=${count}, seed ${seed})`;
      try {
        emit(
          name,
          await checkCase(
            device,
            await embeddingData(file, tensor, count, seed, oracle),
            options.impls,
          ),
        );
      } catch (error) {
        emit(name, [failure(name, `could not run: ${message(error)}`)]);
      }
    }
  }
  return all;
}

/** The whole table, `count` seeded ids (last and first rows among them) and llama.cpp's dequantization of those rows. */
async function embeddingData(
  file: GGUFFile,
  tensor: GGUFTensorInfo,
  count: number,
  seed: number,
  oracle: LlamaCppOracle,
): Promise<EmbeddingData> {
  const { n, k } = q5kShape(tensor);
  const c: EmbeddingCase = { op: "embedding", rows: n, k, ids: count, mode: "random", seed };
  const ids = caseIds(c);
  const blob = await readTensor(file, tensor);
  const rowBytes = tensor.bytes / n;
  const expected = new Float32Array(count * k);
  ids.forEach((id, i) => {
    expected.set(oracle.dequantize(blob.subarray(id * rowBytes, (id + 1) * rowBytes)), i * k);
  });
  return {
    case: c,
    blob,
    ids,
    expected,
  };
}
