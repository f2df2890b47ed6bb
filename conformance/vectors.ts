/**
 * The committed llama.cpp vectors: writing them from the live oracle and
 * reading them back (on machines where llama.cpp cannot load).
 *
 * Layout: `vectors/manifest.json` lists every case with the SHA-256 of each of
 * its arrays; `vectors/<slug>.bin` holds the arrays small enough to commit.
 * Inputs over {@linkcode STORE_LIMIT} bytes are regenerated from the case's
 * seed and checked against their digest; llama.cpp's outputs are always stored,
 * except dequantized weights over the limit, which are kept as a digest only.
 *
 * @module
 */

import {
  caseActivations,
  caseBlob,
  caseIds,
  caseName,
  caseSlug,
  type ConformanceCase,
  VECTOR_CASES,
} from "./cases.ts";
import { referenceLinear } from "./compare.ts";
import { type LlamaCppOracle, ORACLE_PACKAGE } from "./oracle.ts";

/** Where the committed vectors live. */
export const VECTORS_DIR: URL = new URL("./vectors/", import.meta.url);
/** Arrays up to this many bytes are stored; larger inputs are regenerated. */
export const STORE_LIMIT = 64 * 1024;

type DType = "u8" | "i32" | "f32" | "f64";
type AnyArray = Uint8Array | Int32Array | Float32Array | Float64Array;

/** One array of a case as the manifest records it. */
export interface StoredArray {
  dtype: DType;
  length: number;
  sha256: string;
  /** Byte offset in the case's .bin file; absent when not stored. */
  offset?: number;
}

/** One case in the manifest. */
export interface VectorEntry {
  name: string;
  case: ConformanceCase;
  file: string;
  arrays: Record<string, StoredArray>;
}

/** The manifest file. */
export interface VectorManifest {
  format: 1;
  generator: string;
  llamaCpp: { package: string; release: string };
  referenceNote: string;
  cases: VectorEntry[];
}

const ALWAYS_STORED = new Set(["mulMat", "ref", "getRows"]);
const REGENERABLE = new Set(["blob", "x", "ids"]);

function dtypeOf(a: AnyArray): DType {
  if (a instanceof Uint8Array) return "u8";
  if (a instanceof Int32Array) return "i32";
  if (a instanceof Float32Array) return "f32";
  return "f64";
}

function bytesOf(a: AnyArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Hex SHA-256 of an array's bytes. */
export async function sha256(a: AnyArray): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytesOf(a).slice());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function caseArrays(
  oracle: LlamaCppOracle,
  c: ConformanceCase,
): Record<string, AnyArray> {
  const blob = caseBlob(c);
  const dequant = oracle.dequantize(blob);
  if (c.op === "linear") {
    const x = caseActivations(c);
    return {
      blob,
      x,
      dequant,
      mulMat: oracle.mulMat(blob, c.n, c.k, x, c.m),
      ref: referenceLinear(x, dequant, c.m, c.n, c.k),
    };
  }
  const ids = caseIds(c);
  return { blob, ids, dequant, getRows: oracle.getRows(blob, c.rows, c.k, ids) };
}

/**
 * Produces every vector file in memory from the live llama.cpp oracle.
 *
 * @returns File name → bytes, `manifest.json` included.
 */
export async function buildVectors(
  oracle: LlamaCppOracle,
  release: string,
): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const manifest: VectorManifest = {
    format: 1,
    generator: "deno task vectors (conformance/generate_vectors.ts)",
    llamaCpp: { package: ORACLE_PACKAGE, release },
    referenceNote:
      "ref: f64 sum of x·w over llama.cpp's dequantized weights; mulMat/getRows: llama.cpp's ggml_mul_mat/ggml_get_rows on its portable CPU backend (libggml-cpu-x64.so, 1 thread)",
    cases: [],
  };
  for (const c of VECTOR_CASES) {
    const arrays = caseArrays(oracle, c);
    const entry: VectorEntry = {
      name: caseName(c),
      case: c,
      file: `${caseSlug(c)}.bin`,
      arrays: {},
    };
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const [key, a] of Object.entries(arrays)) {
      const stored: StoredArray = { dtype: dtypeOf(a), length: a.length, sha256: await sha256(a) };
      if (ALWAYS_STORED.has(key) || a.byteLength <= STORE_LIMIT) {
        stored.offset = offset;
        const padded = new Uint8Array(Math.ceil(a.byteLength / 8) * 8);
        padded.set(bytesOf(a));
        parts.push(padded);
        offset += padded.length;
      }
      entry.arrays[key] = stored;
    }
    const bin = new Uint8Array(offset);
    let at = 0;
    for (const p of parts) {
      bin.set(p, at);
      at += p.length;
    }
    files.set(entry.file, bin);
    manifest.cases.push(entry);
  }
  files.set("manifest.json", new TextEncoder().encode(JSON.stringify(manifest, null, 1) + "\n"));
  return files;
}

/**
 * The bytes at `url` by `fetch`, which reads `file:` URLs in Deno and
 * `http:` ones in a browser, so the suite runs unchanged in both.
 *
 * @throws {Error} Starting "NotFound:" with the URL, for a missing file or a failed request.
 */
export async function readBytes(url: URL): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`NotFound: ${url.href}: ${(error as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`NotFound: ${url.href} (HTTP ${response.status})`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Reads the manifest of the committed vectors.
 *
 * @param dir The vectors folder; the committed one by default.
 */
export async function readManifest(dir: URL = VECTORS_DIR): Promise<VectorManifest> {
  const text = new TextDecoder().decode(await readBytes(new URL("manifest.json", dir)));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`manifest.json is not valid JSON: ${(error as Error).message}`);
  }
}

function view(bin: Uint8Array, s: StoredArray): AnyArray {
  const size = { u8: 1, i32: 4, f32: 4, f64: 8 }[s.dtype];
  const bytes = bin.slice(s.offset!, s.offset! + s.length * size).buffer;
  switch (s.dtype) {
    case "u8":
      return new Uint8Array(bytes);
    case "i32":
      return new Int32Array(bytes);
    case "f32":
      return new Float32Array(bytes);
    case "f64":
      return new Float64Array(bytes);
  }
}

/** A case's arrays, loaded or regenerated, each checked against its digest. */
export interface LoadedVector {
  entry: VectorEntry;
  blob: Uint8Array;
  /** llama.cpp's dequantized weights when stored; otherwise compare by {@linkcode StoredArray.sha256}. */
  dequant?: Float32Array;
  x?: Float32Array;
  ids?: Int32Array;
  mulMat?: Float32Array;
  ref?: Float64Array;
  getRows?: Float32Array;
}

/**
 * Loads one case, regenerating inputs that were not stored.
 *
 * @throws {Error} If any array's digest differs from the manifest.
 */
export async function loadVector(
  entry: VectorEntry,
  dir: URL = VECTORS_DIR,
): Promise<LoadedVector> {
  let bin: Uint8Array;
  try {
    bin = await readBytes(new URL(entry.file, dir));
  } catch (error) {
    throw new Error(`Vector ${entry.name}: cannot read ${entry.file}: ${(error as Error).message}`);
  }
  const out: Record<string, AnyArray> = {};
  for (const [key, s] of Object.entries(entry.arrays)) {
    let a: AnyArray | undefined;
    if (s.offset !== undefined) {
      const size = { u8: 1, i32: 4, f32: 4, f64: 8 }[s.dtype];
      if (!size || !(s.offset >= 0) || s.offset + s.length * size > bin.length) {
        throw new RangeError(
          `Vector ${entry.name}: ${key} (${s.dtype} × ${s.length} at byte ${s.offset}) must lie inside ${entry.file}, current value is ${bin.length} bytes`,
        );
      }
      a = view(bin, s);
    } else if (REGENERABLE.has(key)) {
      const c = entry.case;
      a = key === "blob"
        ? caseBlob(c)
        : key === "x" && c.op === "linear"
        ? caseActivations(c)
        : c.op === "embedding"
        ? caseIds(c)
        : undefined;
    }
    if (a === undefined) continue;
    const digest = await sha256(a);
    if (digest !== s.sha256) {
      throw new Error(`Vector ${entry.name}: ${key} digest ${digest} != manifest ${s.sha256}`);
    }
    out[key] = a;
  }
  return { entry, ...out } as unknown as LoadedVector;
}
