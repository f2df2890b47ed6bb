/**
 * A streaming GGUF v3 writer for the load benchmark (bench/gguf_load.ts):
 * header, string/u32 metadata, tensor table, then each tensor's bytes as a
 * callback makes them, so a file of gigabytes is never held in memory. Laid
 * out as ggml's gguf.cpp writes (offsets padded to the alignment, the data
 * section aligned after the table); checked against llama.cpp's reader in
 * bench/gguf_writer_test.ts. Test fixtures come from llama.cpp's own writer
 * (conformance/llama_gguf.ts); this one exists for files too big for that.
 *
 * @module
 */

import { GGML_TYPES } from "../gguf/ggml_types.ts";

/** A tensor to write: its bytes come from `chunk(i)` in order until `bytes` are written. */
export interface StreamTensor {
  name: string;
  type: number;
  /** ggml dims: ne0 (contiguous), ne1. */
  ne0: number;
  ne1: number;
  /** Returns the next bytes of the tensor (the writer stops at its size). */
  chunk: (index: number) => Uint8Array;
}

const ALIGNMENT = 32;

class Bytes {
  parts: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array) {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.push(b);
  }
  u64(v: number) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.push(b);
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.push(b);
  }
  join(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** The bytes of a tensor of `type` with ne0 × ne1 elements. */
export function tensorBytes(type: number, ne0: number, ne1: number): number {
  const t = GGML_TYPES.get(type);
  if (!t) throw new TypeError(`Cannot size a tensor: ggml type ${type} is unknown`);
  return (ne0 * ne1 / t.blockSize) * t.typeSize;
}

/** Writes `tensors` with `metadata` (strings and u32s) to `path`; returns the file's size. */
export async function writeGGUF(
  path: string,
  metadata: Record<string, string | number>,
  tensors: StreamTensor[],
): Promise<number> {
  const head = new Bytes();
  head.u32(0x46554747); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) {
    head.str(key);
    if (typeof value === "string") {
      head.u32(8); // GGUF_TYPE_STRING
      head.str(value);
    } else {
      head.u32(4); // GGUF_TYPE_UINT32
      head.u32(value);
    }
  }
  const pad = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT;
  let offset = 0;
  for (const t of tensors) {
    head.str(t.name);
    head.u32(2);
    head.u64(t.ne0);
    head.u64(t.ne1);
    head.u32(t.type);
    head.u64(offset);
    offset += pad(tensorBytes(t.type, t.ne0, t.ne1));
  }
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const header = head.join();
    await writeAll(file, header);
    await writeAll(file, new Uint8Array(pad(header.length) - header.length));
    for (const t of tensors) {
      const size = tensorBytes(t.type, t.ne0, t.ne1);
      let written = 0;
      for (let i = 0; written < size; i++) {
        const c = t.chunk(i);
        if (c.length === 0) throw new RangeError(`tensor ${t.name}: chunk ${i} is empty`);
        const part = c.subarray(0, size - written);
        await writeAll(file, part);
        written += part.length;
      }
      await writeAll(file, new Uint8Array(pad(size) - size));
    }
    return (await file.stat()).size;
  } finally {
    file.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
}
