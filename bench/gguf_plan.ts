/**
 * `bench --gguf FILE`: what to time from a GGUF file — each distinct Q5_K
 * weight shape (its tensors read one at a time, as layers are made),
 * `token_embd` as the embedding table where it is Q5_K — what is skipped and
 * why, and how fast the file's Q5_K tensors upload to the GPU.
 *
 * @module
 */

import { type GGUFFile, type GGUFTensorInfo, readTensor } from "../gguf/reader.ts";
import { EMBEDDING_TENSOR, q5kShape, summarizeGGUF } from "../gguf/q5k_tensors.ts";
import type { EmbeddingConfig, GGUFBenchInfo, Shape } from "./sweep.ts";

/** What a file gives the sweep. */
export interface GGUFPlan {
  /** One per distinct Q5_K shape; copy `c` reads the shape's tensor `c mod count`. */
  shapes: Shape[];
  /** The Q5_K `token_embd` as a table (its id counts filled in by the caller), or null. */
  embedding: Omit<EmbeddingConfig, "counts"> | null;
  /** Every tensor not timed, with its type and why. */
  skipped: GGUFBenchInfo["skipped"];
  /** Every 2-D Q5_K tensor, the embedding table too (what the upload times), in file order. */
  q5k: GGUFTensorInfo[];
  architecture: string;
}

/**
 * Sorts a file's tensors into what the bench times and what it skips. The
 * embedding table is timed as an embedding only: as a linear weight it
 * would be the LM head, which a file names `output.weight`.
 */
export function ggufPlan(file: GGUFFile): GGUFPlan {
  const skipped: GGUFPlan["skipped"] = [];
  const byShape = new Map<string, GGUFTensorInfo[]>();
  let embedding: GGUFPlan["embedding"] = null;
  const q5k: GGUFTensorInfo[] = [];
  for (const t of file.tensors) {
    if (t.typeName !== "Q5_K") {
      skipped.push({ name: t.name, type: t.typeName, reason: "not Q5_K" });
      continue;
    }
    let shape: { n: number; k: number };
    try {
      shape = q5kShape(t);
    } catch {
      skipped.push({ name: t.name, type: t.typeName, reason: `not 2-D: dims [${t.dims}]` });
      continue;
    }
    q5k.push(t);
    if (t.name === EMBEDDING_TENSOR) {
      embedding = {
        rows: shape.n,
        k: shape.k,
        name: t.name,
        table: () => readTensor(file, t),
      };
      continue;
    }
    const key = `${shape.n}x${shape.k}`;
    byShape.set(key, [...(byShape.get(key) ?? []), t]);
  }
  const shapes = [...byShape.values()].map((tensors): Shape => {
    const { n, k } = q5kShape(tensors[0]);
    return {
      n,
      k,
      names: tensors.map((t) => t.name),
      weights: (copy) => readTensor(file, tensors[copy % tensors.length]),
    };
  });
  return { shapes, embedding, skipped, q5k, architecture: summarizeGGUF(file).architecture };
}

/**
 * Uploads every tensor of `tensors` to one GPU buffer in turn (read from the
 * file, `writeBuffer`, wait for the queue, free), timing reads and uploads
 * apart. One tensor is in host memory at a time.
 */
export async function measureUpload(
  device: GPUDevice,
  file: GGUFFile,
  tensors: GGUFTensorInfo[],
): Promise<GGUFBenchInfo["upload"]> {
  let readMs = 0;
  let uploadMs = 0;
  let bytes = 0;
  for (const t of tensors) {
    let started = performance.now();
    const data = await readTensor(file, t);
    readMs += performance.now() - started;
    const buffer = device.createBuffer({
      label: `upload ${t.name}`,
      size: Math.ceil(data.length / 4) * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    started = performance.now();
    device.queue.writeBuffer(
      buffer,
      0,
      data as Uint8Array<ArrayBuffer>,
      0,
      data.length - data.length % 4,
    );
    await device.queue.onSubmittedWorkDone();
    uploadMs += performance.now() - started;
    buffer.destroy();
    bytes += data.length;
  }
  return {
    tensors: tensors.length,
    bytes,
    readMs,
    uploadMs,
    gbps: uploadMs > 0 ? bytes / (uploadMs * 1e6) : 0,
  };
}
