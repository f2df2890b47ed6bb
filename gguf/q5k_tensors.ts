/**
 * Making this library's layers straight from a GGUF file's Q5_K tensors, and
 * summarizing what a file holds. ggml's dims order (ne0 = K, the contiguous
 * one; ne1 = N rows) is turned into `{ n, k }` here and nowhere else.
 *
 * @module
 */

import { type GGUFFile, type GGUFTensorInfo, readTensor } from "./reader.ts";
import { Q5KLinear, type Q5KLinearOptions } from "../kernels/linear.ts";
import { Q5KEmbedding } from "../kernels/embedding.ts";

/**
 * A Q5_K weight's shape as the layers take it: ggml's `[ne0, ne1]` is K
 * (contiguous, a multiple of 256) by N rows.
 *
 * @throws {TypeError} If the tensor is not Q5_K.
 * @throws {RangeError} If it is not a 2-D weight (a 1-D one is one row).
 */
export function q5kShape(tensor: GGUFTensorInfo): { n: number; k: number } {
  if (tensor.typeName !== "Q5_K") {
    throw new TypeError(
      `Cannot use GGUF tensor ${tensor.name} as Q5_K: its type must be Q5_K, current value is ${tensor.typeName}`,
    );
  }
  if (tensor.dims.length > 2 || tensor.dims.slice(2).some((d) => d !== 1)) {
    throw new RangeError(
      `Cannot use GGUF tensor ${tensor.name} as a Q5_K matrix: it must have 2 dims, current value is [${tensor.dims}]`,
    );
  }
  return { k: tensor.dims[0], n: tensor.dims[1] ?? 1 };
}

/** The tensor a GGUF model's token embedding table is named by (llama.cpp's `LLM_TENSOR_TOKEN_EMBD`). */
export const EMBEDDING_TENSOR = "token_embd.weight";

function find(file: GGUFFile, name: string): GGUFTensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new RangeError(`Cannot find GGUF tensor: no tensor is named "${name}"`);
  return t;
}

/**
 * A linear layer (y = x·Wᵀ) from a file's Q5_K weight: N = ne1 outputs, K = ne0 inputs.
 *
 * @param options Everything but n and k (taken from the tensor).
 * @throws {TypeError} If the tensor is not Q5_K. @throws {RangeError} If no tensor has the name or it is not 2-D.
 * @example GPU
 * ```ts ignore
 * import { linearFromGGUF, openGGUF, requestDevice } from "@kquant/webgpu";
 * const file = await openGGUF("model.gguf");
 * const layer = await linearFromGGUF(await requestDevice(), file, "blk.0.attn_q.weight");
 * ```
 */
export async function linearFromGGUF(
  device: GPUDevice,
  file: GGUFFile,
  name: string,
  options: Omit<Q5KLinearOptions, "n" | "k"> = {},
): Promise<Q5KLinear> {
  const tensor = find(file, name);
  const shape = q5kShape(tensor);
  return Q5KLinear.create(device, await readTensor(file, tensor), { ...options, ...shape });
}

/**
 * An embedding table from a file's Q5_K tensor (e.g. `token_embd.weight`): ne1 rows of ne0.
 *
 * @throws {TypeError} If the tensor is not Q5_K. @throws {RangeError} If no tensor has the name or it is not 2-D.
 */
export async function embeddingFromGGUF(
  device: GPUDevice,
  file: GGUFFile,
  name: string,
): Promise<Q5KEmbedding> {
  const tensor = find(file, name);
  const { n, k } = q5kShape(tensor);
  return Q5KEmbedding.create(device, await readTensor(file, tensor), { rows: n, k });
}

/** What `info --gguf` prints: the architecture, bytes per type, and the distinct Q5_K shapes. */
export interface GGUFSummary {
  /** `general.architecture`. */
  architecture: string;
  /** How many tensors the file has. */
  tensors: number;
  /** Per ggml type: how many tensors and their bytes. */
  byType: { type: string; tensors: number; bytes: number }[];
  /** Each distinct Q5_K shape (N×K) and the tensors that have it. */
  q5kShapes: { n: number; k: number; names: string[] }[];
}

/** Summarizes a file for `info --gguf` and `bench --gguf`. */
export function summarizeGGUF(file: GGUFFile): GGUFSummary {
  const arch = file.metadata.get("general.architecture");
  const byType = new Map<string, { type: string; tensors: number; bytes: number }>();
  const shapes = new Map<string, { n: number; k: number; names: string[] }>();
  for (const t of file.tensors) {
    const row = byType.get(t.typeName) ?? { type: t.typeName, tensors: 0, bytes: 0 };
    row.tensors++;
    row.bytes += t.bytes;
    byType.set(t.typeName, row);
    if (t.typeName !== "Q5_K" || t.dims.length > 2) continue;
    const { n, k } = q5kShape(t);
    const shape = shapes.get(`${n}x${k}`) ?? { n, k, names: [] };
    shape.names.push(t.name);
    shapes.set(`${n}x${k}`, shape);
  }
  return {
    architecture: arch?.type === "string" ? arch.value : "(none)",
    tensors: file.tensors.length,
    byType: [...byType.values()].sort((a, b) => b.bytes - a.bytes),
    q5kShapes: [...shapes.values()],
  };
}
