/**
 * Reading GGUF files (v2 and v3) lazily: the header, every metadata value and
 * the tensor table are parsed from the file's start alone, and a tensor's
 * bytes are read only when asked for, so a 5–50 GB file is never loaded
 * whole. Works on a path (Deno: seek and read), an `ArrayBuffer` or
 * `Uint8Array`, or a `Blob`/`File` (browsers). Layout and checks follow
 * llama.cpp's gguf.cpp; every malformed field is an error naming the field
 * and its byte offset, and no count is trusted beyond what the file can hold.
 *
 * @module
 */

import { GGML_TYPES } from "./ggml_types.ts";

/** GGUF metadata value types (gguf.h `gguf_type`). */
export const GGUF_VALUE_TYPES: readonly GGUFValueType[] = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
];

/** A metadata value type's name. */
export type GGUFValueType =
  | "u8"
  | "i8"
  | "u16"
  | "i16"
  | "u32"
  | "i32"
  | "f32"
  | "bool"
  | "string"
  | "array"
  | "u64"
  | "i64"
  | "f64";

/** A metadata value: its type, and the value (64-bit integers as bigint, arrays element-typed). */
export type GGUFValue =
  | { type: Exclude<GGUFValueType, "array" | "u64" | "i64" | "string" | "bool">; value: number }
  | { type: "u64" | "i64"; value: bigint }
  | { type: "string"; value: string }
  | { type: "bool"; value: boolean }
  | { type: "array"; itemType: GGUFValueType; value: GGUFValue[] };

/** One tensor of the table. */
export interface GGUFTensorInfo {
  /** The tensor's name, e.g. `blk.0.attn_q.weight`. */
  name: string;
  /** ggml's dims: `dims[0]` (ne0) is the contiguous one — K for a weight of N rows of K. */
  dims: number[];
  /** ggml type id and name. */
  type: number;
  /** The type's name, e.g. `Q5_K`. */
  typeName: string;
  /** Bytes from the start of the data section (a multiple of the alignment). */
  offset: number;
  /** Bytes of the tensor's data. */
  bytes: number;
}

/** A parsed GGUF file: everything but the tensor data. */
export interface GGUFFile {
  /** The format version. */
  version: 2 | 3;
  /** The data section's alignment (`general.alignment`, default 32). */
  alignment: number;
  /** Every key-value pair, in file order. */
  metadata: Map<string, GGUFValue>;
  /** The tensor table, in file order. */
  tensors: GGUFTensorInfo[];
  /** Byte offset of the data section in the file. */
  dataOffset: number;
  /** The file's size in bytes. */
  size: number;
  /** Where the bytes come from. */
  source: ByteSource;
}

/** Random access to a file's bytes. */
export interface ByteSource {
  /** The file's size in bytes. */
  size: number;
  /** `length` bytes from `offset` (fewer only past the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the file, where there is one to release. */
  close?(): void;
}

/** Bytes in memory as a source. */
export function bytesSource(data: ArrayBuffer | Uint8Array): ByteSource {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  return {
    size: bytes.length,
    read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)),
  };
}

/** A `Blob` or `File` (browser) as a source: each read slices it. */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    read: async (offset, length) =>
      new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/** A file by path (Deno), read with seek and read; `close()` it when done. */
export async function pathSource(path: string | URL): Promise<ByteSource> {
  if (typeof Deno === "undefined") {
    throw new TypeError("Cannot open a GGUF path outside Deno: pass a Blob or the bytes instead");
  }
  const file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      await file.seek(offset, Deno.SeekMode.Start);
      let at = 0;
      while (at < out.length) {
        const n = await file.read(out.subarray(at));
        if (n === null) break;
        at += n;
      }
      return out.subarray(0, at);
    },
    close: () => file.close(),
  };
}

/** The format's magic, "GGUF" read as a little-endian u32. */
const MAGIC = 0x46554747;
const DEFAULT_ALIGNMENT = 32;
const CHUNK = 1 << 16;
const MAX_DIMS = 4;

function fail(field: string, offset: number, what: string, kind = RangeError): never {
  throw new kind(`Cannot read GGUF: ${field} at byte ${offset} ${what}`);
}

/** A forward cursor over a source, reading ahead in chunks; checks every length against the file. */
class Cursor {
  #buf = new Uint8Array(0);
  #start = 0; // file offset of #buf[0]
  at = 0;
  constructor(readonly source: ByteSource) {}

  async #need(n: number, field: string): Promise<void> {
    if (this.at + n > this.source.size) {
      fail(field, this.at, `needs ${n} bytes, but the file ends at byte ${this.source.size}`);
    }
    if (this.at + n <= this.#start + this.#buf.length) return;
    const length = Math.max(n, CHUNK);
    this.#buf = (await this.source.read(this.at, length)).slice();
    this.#start = this.at;
    if (this.#buf.length < n) fail(field, this.at, `could not be read (${this.#buf.length} bytes)`);
  }

  async bytes(n: number, field: string): Promise<Uint8Array> {
    await this.#need(n, field);
    const i = this.at - this.#start;
    this.at += n;
    return this.#buf.subarray(i, i + n);
  }

  async view(n: number, field: string): Promise<DataView> {
    const b = await this.bytes(n, field);
    return new DataView(b.buffer, b.byteOffset, n);
  }

  async u32(field: string): Promise<number> {
    return (await this.view(4, field)).getUint32(0, true);
  }

  /** A u64 that must be a safe integer (counts, lengths, dims, offsets). */
  async count(field: string): Promise<number> {
    const at = this.at;
    const v = (await this.view(8, field)).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(field, at, `is ${v}, beyond any file`);
    return Number(v);
  }

  async string(field: string): Promise<string> {
    const at = this.at;
    const n = await this.count(`${field} length`);
    if (n > this.source.size - this.at) {
      fail(
        `${field} length`,
        at,
        `is ${n}, more than the ${this.source.size - this.at} bytes left`,
      );
    }
    const bytes = await this.bytes(n, field);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return fail(field, at + 8, "is not valid UTF-8", TypeError);
    }
  }
}

const SCALAR_BYTES: Partial<Record<GGUFValueType, number>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};

async function valueType(c: Cursor, field: string): Promise<GGUFValueType> {
  const at = c.at;
  const id = await c.u32(field);
  const type = GGUF_VALUE_TYPES[id];
  if (type === undefined) fail(field, at, `is ${id}, not a GGUF value type (0…12)`, TypeError);
  return type;
}

async function readValue(c: Cursor, type: GGUFValueType, field: string): Promise<GGUFValue> {
  const at = c.at;
  if (type === "string") return { type, value: await c.string(field) };
  if (type === "array") {
    const itemType = await valueType(c, `${field} item type`);
    const n = await c.count(`${field} count`);
    // Each item takes at least a byte (strings 8, nested arrays 12): the rest of the file bounds n.
    const least = SCALAR_BYTES[itemType] ?? (itemType === "string" ? 8 : 12);
    if (n * least > c.source.size - c.at) {
      fail(`${field} count`, at + 4, `is ${n}, more than the rest of the file can hold`);
    }
    const value: GGUFValue[] = [];
    for (let i = 0; i < n; i++) value.push(await readValue(c, itemType, `${field}[${i}]`));
    return { type, itemType, value };
  }
  const v = await c.view(SCALAR_BYTES[type]!, field);
  switch (type) {
    case "u8":
      return { type, value: v.getUint8(0) };
    case "i8":
      return { type, value: v.getInt8(0) };
    case "u16":
      return { type, value: v.getUint16(0, true) };
    case "i16":
      return { type, value: v.getInt16(0, true) };
    case "u32":
      return { type, value: v.getUint32(0, true) };
    case "i32":
      return { type, value: v.getInt32(0, true) };
    case "f32":
      return { type, value: v.getFloat32(0, true) };
    case "f64":
      return { type, value: v.getFloat64(0, true) };
    case "u64":
      return { type, value: v.getBigUint64(0, true) };
    case "i64":
      return { type, value: v.getBigInt64(0, true) };
    case "bool": {
      const b = v.getUint8(0);
      if (b > 1) fail(field, at, `is ${b}, not a bool (0 or 1)`, TypeError);
      return { type, value: b === 1 };
    }
  }
}

/**
 * Parses a GGUF file's header, metadata and tensor table from `source`.
 *
 * @param source A path (Deno), the bytes, a `Blob`/`File`, or a {@linkcode ByteSource}.
 * @returns The file without its tensor data; read a tensor with {@linkcode readTensor}.
 * @throws {TypeError} For a wrong magic, a value or tensor type GGUF or ggml does not know, bad UTF-8.
 * @throws {RangeError} For an unsupported version, a count, length, dim or offset the file cannot
 * hold, misaligned or overlapping tensors, a tensor whose data runs past the end.
 * @example
 * ```ts ignore
 * import { openGGUF, readTensor } from "@kquant/webgpu";
 * const file = await openGGUF("model.gguf");
 * const q5k = file.tensors.filter((t) => t.typeName === "Q5_K");
 * const bytes = await readTensor(file, q5k[0]);
 * ```
 */
export async function openGGUF(
  source: string | URL | ArrayBuffer | Uint8Array | Blob | ByteSource,
): Promise<GGUFFile> {
  const bytes: ByteSource = typeof source === "string" || source instanceof URL
    ? await pathSource(source)
    : source instanceof ArrayBuffer || source instanceof Uint8Array
    ? bytesSource(source)
    : typeof Blob !== "undefined" && source instanceof Blob
    ? blobSource(source)
    : source as ByteSource;
  const c = new Cursor(bytes);
  const magic = await c.u32("magic");
  if (magic !== MAGIC) fail("magic", 0, `is 0x${magic.toString(16)}, not "GGUF"`, TypeError);
  const version = await c.u32("version");
  if (version !== 2 && version !== 3) {
    fail("version", 4, `is ${version}; this reader reads GGUF v2 and v3`);
  }
  const nTensors = await c.count("n_tensors");
  const nKv = await c.count("n_kv");
  // A key-value pair takes at least 12 bytes, a tensor info at least 28.
  if (nKv * 12 + nTensors * 28 > bytes.size - c.at) {
    fail("n_tensors/n_kv", 8, `are ${nTensors}/${nKv}, more than the file can hold`);
  }
  const metadata = new Map<string, GGUFValue>();
  for (let i = 0; i < nKv; i++) {
    const at = c.at;
    const key = await c.string(`key ${i}`);
    if (metadata.has(key)) fail(`key ${i}`, at, `"${key}" is a duplicate`);
    metadata.set(key, await readValue(c, await valueType(c, `${key} type`), key));
  }
  let alignment = DEFAULT_ALIGNMENT;
  const align = metadata.get("general.alignment");
  if (align) {
    if (align.type !== "u32" || align.value === 0 || (align.value & (align.value - 1)) !== 0) {
      fail("general.alignment", 0, `must be a u32 power of two, current value is ${align.value}`);
    }
    alignment = align.value;
  }
  const tensors: GGUFTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const at = c.at;
    const name = await c.string(`tensor ${i} name`);
    if (names.has(name)) fail(`tensor ${i} name`, at, `"${name}" is a duplicate`);
    names.add(name);
    const dimsAt = c.at;
    const nDims = await c.u32(`${name} n_dims`);
    if (nDims < 1 || nDims > MAX_DIMS) fail(`${name} n_dims`, dimsAt, `is ${nDims}, not 1…4`);
    const dims: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const dAt = c.at;
      const ne = await c.count(`${name} dim ${d}`);
      elements *= ne;
      if (!Number.isSafeInteger(elements)) {
        fail(`${name} dim ${d}`, dAt, "overflows the element count");
      }
      dims.push(ne);
    }
    const typeAt = c.at;
    const type = await c.u32(`${name} type`);
    const ggml = GGML_TYPES.get(type);
    if (!ggml) fail(`${name} type`, typeAt, `is ${type}, a type id ggml does not know`, TypeError);
    if (dims[0] % ggml.blockSize !== 0) {
      fail(
        `${name} dim 0`,
        dimsAt + 4,
        `is ${dims[0]}, not a multiple of ${ggml.name}'s ${ggml.blockSize}`,
      );
    }
    const offsetAt = c.at;
    const offset = await c.count(`${name} offset`);
    if (offset % alignment !== 0) {
      fail(
        `${name} offset`,
        offsetAt,
        `is ${offset}, not a multiple of the alignment ${alignment}`,
      );
    }
    tensors.push({
      name,
      dims,
      type,
      typeName: ggml.name,
      offset,
      bytes: (elements / ggml.blockSize) * ggml.typeSize,
    });
  }
  const dataOffset = Math.ceil(c.at / alignment) * alignment;
  const dataBytes = bytes.size - dataOffset;
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  byOffset.forEach((t, i) => {
    if (t.offset + t.bytes > dataBytes) {
      fail(
        `${t.name} data`,
        dataOffset + t.offset,
        `runs ${t.bytes} bytes, past the end of the file (${bytes.size} bytes)`,
      );
    }
    const next = byOffset[i + 1];
    if (next && t.offset + t.bytes > next.offset) {
      fail(`${t.name} data`, dataOffset + t.offset, `overlaps ${next.name}'s`);
    }
  });
  return {
    version: version as 2 | 3,
    alignment,
    metadata,
    tensors,
    dataOffset,
    size: bytes.size,
    source: bytes,
  };
}

/**
 * Reads one tensor's bytes (`tensor.bytes` of them).
 *
 * @param file A file from {@linkcode openGGUF}.
 * @param tensor One of `file.tensors`, or its name.
 * @returns The raw bytes, as ggml lays them out.
 * @throws {RangeError} If no tensor has that name.
 */
export async function readTensor(
  file: GGUFFile,
  tensor: GGUFTensorInfo | string,
): Promise<Uint8Array> {
  const t = typeof tensor === "string" ? file.tensors.find((x) => x.name === tensor) : tensor;
  if (!t) throw new RangeError(`Cannot read GGUF tensor: no tensor is named "${tensor}"`);
  const out = await file.source.read(file.dataOffset + t.offset, t.bytes);
  if (out.length !== t.bytes) {
    throw new RangeError(
      `Cannot read GGUF tensor ${t.name}: got ${out.length} of ${t.bytes} bytes`,
    );
  }
  return out;
}
