/**
 * Runs one conformance case on a WebGPU device and compares it with llama.cpp:
 * non-finite values first, then the bound; sentinel words around every output
 * must come back untouched (llama.cpp's test-backend-ops guards its tensors the
 * same way to catch out-of-bounds writes).
 *
 * @module
 */

import { caseName, type EmbeddingCase, EXTREME_X, type LinearCase } from "./cases.ts";
import { compareNmse, compareUlp, type Comparison, idealInt8Nmse } from "./compare.ts";
import { dequantizeQ5K } from "../kernels/dequantize.ts";
import type { Implementation } from "../kernels/implementation.ts";
import { q5kImplementation } from "../kernels/q5k_implementation.ts";
import { readBack, uploadStorage } from "../kernels/_gpu.ts";

/** Linear against the f64 reference: f32 accumulation lands near 1e-13. */
export const LINEAR_REF_NMSE = 1e-10;
/** Linear against llama.cpp's ggml_mul_mat: its test-backend-ops MUL_MAT bound. */
export const LINEAR_LLAMA_NMSE = 5e-4;

/**
 * The bound against llama.cpp's ggml_mul_mat for one case: its
 * test-backend-ops bound, or twice llama.cpp's own NMSE against the f64
 * reference where that is larger. On activations with outlier channels its
 * CPU MUL_MAT (activations as Q8_K, one scale per 256) lands 9e-4…1.2e-3
 * from the f64 reference, while our f32 paths land within 1e-13 of it.
 */
export function llamaBound(mulMat: Float32Array, ref: Float64Array): number {
  return Math.max(LINEAR_LLAMA_NMSE, 2 * compareNmse(mulMat, ref, Infinity).nmse);
}
/**
 * The opt-in int8-activation path against the f64 reference: 8-bit
 * activations carry ~1e-5 relative error, so it is held to the same bound
 * llama.cpp holds its own 8-bit-activation MUL_MAT to.
 */
export const LINEAR_INT8_REF_NMSE = 5e-4;
/**
 * On activations with outlier channels, the int8 path against the f64
 * reference: at most this multiple of the ideal per-32 scheme's NMSE on the
 * same data ({@linkcode idealInt8Nmse}); f32 accumulation adds little to it.
 */
export const INT8_IDEAL_FACTOR = 1.5;
/** Embedding against llama.cpp's rows: see embedding_kernel.ts for the one ulp. */
export const EMBEDDING_MAX_ULP = 1;

/** Bytes of sentinel before and after each output (one aligned binding offset). */
const GUARD_BYTES = 256;
const SENTINEL = 0x7fc0dead; // a NaN payload no kernel produces

/** One case on one variant. */
export interface CaseResult {
  name: string;
  variant: string;
  ok: boolean;
  /** Against the f64 reference (linear) or llama.cpp's rows (embedding). */
  primary: Comparison;
  /** Against llama.cpp's ggml_mul_mat (linear only). */
  llama?: Comparison;
  detail: string;
  /** Not run (the reason is in `detail`): counted apart, never as passed. */
  skipped?: boolean;
}

/** Inputs and expected outputs of a linear case. */
export interface LinearData {
  case: LinearCase;
  blob: Uint8Array;
  x: Float32Array;
  ref: Float64Array;
  mulMat?: Float32Array;
}

/** Inputs and expected outputs of an embedding case. */
export interface EmbeddingData {
  case: EmbeddingCase;
  blob: Uint8Array;
  ids: Int32Array;
  expected: Float32Array;
}

async function guardedRun(
  device: GPUDevice,
  outBytes: number,
  encode: (
    encoder: GPUCommandEncoder,
    y: { buffer: GPUBuffer; offset: number; size: number },
  ) => void,
): Promise<{ out: Float32Array; guardDetail: string }> {
  const total = GUARD_BYTES * 2 + Math.ceil(outBytes / 256) * 256;
  const init = new Uint32Array(total / 4).fill(SENTINEL);
  const buffer = uploadStorage(
    device,
    "conformance output with guards",
    init,
    GPUBufferUsage.COPY_SRC,
  );
  const encoder = device.createCommandEncoder({ label: "conformance" });
  encode(encoder, { buffer, offset: GUARD_BYTES, size: outBytes });
  const words = new Uint32Array(await readBack(device, buffer, total, 0, encoder));
  buffer.destroy();
  const start = GUARD_BYTES / 4;
  const end = start + outBytes / 4;
  let guardDetail = "";
  for (let i = 0; i < words.length; i++) {
    if ((i < start || i >= end) && words[i] !== SENTINEL) {
      guardDetail = `out-of-bounds write: guard word ${i < start ? i - start : i - end} changed`;
      break;
    }
  }
  return {
    out: new Float32Array(words.buffer.slice(GUARD_BYTES, GUARD_BYTES + outBytes)),
    guardDetail,
  };
}

/** The label of an implementation's run at M: ours by what runs, others by name. */
function runLabel(impl: Implementation, what: string | undefined): string {
  if (impl.name === "kquant" || impl.name.startsWith("kquant:")) return what ?? impl.name;
  return what ? `${impl.name}: ${what}` : impl.name;
}

/**
 * Runs a linear case through an implementation: `encode()` into a guarded
 * output where it has one (else `run()`), `run()` for activations outside
 * the range encode() promises (see cases.ts EXTREME_X).
 */
export async function checkLinear(
  device: GPUDevice,
  data: LinearData,
  impl: Implementation = q5kImplementation(),
): Promise<CaseResult> {
  const { m, n, k } = data.case;
  const layer = await impl.linear!(device, data.blob, { n, k });
  let out: Float32Array;
  let guardDetail = "";
  let label: string;
  try {
    const viaRun = EXTREME_X.includes(data.case.x ?? "uniform") || !layer.encode;
    if (viaRun) out = await layer.run(data.x, m);
    else {
      const x = uploadStorage(device, "conformance x", data.x);
      try {
        ({ out, guardDetail } = await guardedRun(
          device,
          m * n * 4,
          (encoder, y) => layer.encode!(encoder, x, y, m),
        ));
      } finally {
        x.destroy();
      }
    }
    label = `${runLabel(impl, layer.describe?.(m))}${viaRun ? " via run()" : ""}`;
  } finally {
    layer.destroy();
  }
  const int8 = impl.precision === "int8";
  let bound = int8 ? LINEAR_INT8_REF_NMSE : LINEAR_REF_NMSE;
  if (int8 && data.case.x === "outliers") {
    const ideal = idealInt8Nmse(data.x, dequantizeQ5K(data.blob), data.ref, m, n, k);
    bound = Math.min(bound, INT8_IDEAL_FACTOR * ideal);
  }
  const primary = compareNmse(out, data.ref, bound);
  const llama = data.mulMat
    ? compareNmse(out, data.mulMat, llamaBound(data.mulMat, data.ref))
    : undefined;
  const ok = primary.ok && (llama?.ok ?? true) && guardDetail === "";
  const detail = [
    guardDetail,
    primary.detail && `vs f64 reference: ${primary.detail}`,
    llama?.detail && `vs llama.cpp: ${llama.detail}`,
  ]
    .filter(Boolean).join("; ");
  return { name: caseName(data.case), variant: label, ok, primary, llama, detail };
}

/** Runs an embedding case through an implementation's `encode()` with guarded output (else `lookup()`). */
export async function checkEmbedding(
  device: GPUDevice,
  data: EmbeddingData,
  impl: Implementation = q5kImplementation(),
): Promise<CaseResult> {
  const { rows, k } = data.case;
  const table = await impl.embedding!(device, data.blob, { rows, k });
  const count = data.ids.length;
  let out: Float32Array;
  let guardDetail = "";
  try {
    if (!table.encode) out = await table.lookup(data.ids);
    else {
      const ids = uploadStorage(device, "conformance ids", new Uint32Array(data.ids));
      try {
        ({ out, guardDetail } = await guardedRun(
          device,
          count * k * 4,
          (encoder, y) => table.encode!(encoder, ids, y, count),
        ));
      } finally {
        ids.destroy();
      }
    }
  } finally {
    table.destroy();
  }
  const primary = compareUlp(out, data.expected, EMBEDDING_MAX_ULP);
  const ok = primary.ok && guardDetail === "";
  const detail = [guardDetail, primary.detail].filter(Boolean).join("; ");
  const label = runLabel(impl, table.encode ? "gather" : "gather via lookup()");
  return { name: caseName(data.case), variant: label, ok, primary, detail };
}
