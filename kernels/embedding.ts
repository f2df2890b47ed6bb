/**
 * Q5_K embedding table on WebGPU: gathers dequantized rows by id.
 *
 * @module
 */

import {
  type Binding,
  type BufferRange,
  checkBuffers,
  checkDevice,
  checkRecorder,
  dispatch,
  DispatchCache,
  GrowingBuffer,
  type KernelSpec,
  MAX_PLANS,
  submitAndRead,
} from "./_gpu.ts";
import { watchDevice } from "./_tracking.ts";
import { type GpuBlob, uploadBlob } from "./_weights.ts";
import { embeddingKernel } from "./embedding_kernel.ts";
import {
  bindingLimit,
  deviceAndOptions,
  fitsBinding,
  instance,
  knownKeys,
  positiveInt,
  show,
} from "./_validate.ts";

/** Options of {@linkcode Q5KEmbedding.create}. */
export interface Q5KEmbeddingOptions {
  /** Rows of the table (vocabulary size). */
  rows: number;
  /** Width of a row: a multiple of 256. */
  k: number;
}

/** Options the tests use (not public: `Q5KEmbedding.create` accepts them, its type does not name them). */
export interface EmbeddingInternals {
  /** Caps storage bindings below the device limit (tests the chunked path). */
  maxBindingBytes?: number;
}

/** Types `options` with the internal keys for `Q5KEmbedding.create` (tests). */
export function tableWithInternals(
  options: Q5KEmbeddingOptions & EmbeddingInternals,
): Q5KEmbeddingOptions {
  return options;
}

/** Ids accepted by {@linkcode Q5KEmbedding.lookup}. */
export type Ids = Int32Array | Uint32Array | readonly number[];

/**
 * A Q5_K embedding table whose rows×K blocks live on the GPU.
 *
 * @example GPU
 * ```ts ignore
 * import { makeQ5KBlob, Q5KEmbedding, requestDevice } from "@kquant/webgpu";
 * const device = await requestDevice();
 * const table = Q5KEmbedding.create(device, makeQ5KBlob(32000, 4096), { rows: 32000, k: 4096 });
 * const rows = await table.lookup([1, 15043, 3186]); // 3×4096 floats
 * table.destroy();
 * ```
 */
export class Q5KEmbedding {
  /** The device the table lives on. */
  readonly device: GPUDevice;
  /** Rows of the table (valid ids are 0..rows-1). */
  readonly rows: number;
  /** Values per row (a multiple of 256). */
  readonly k: number;
  #table: GpuBlob;
  #uniforms: DispatchCache;
  #plans = new Map<number, { spec: KernelSpec; table: BufferRange }[]>();
  #scratch: { ids: GrowingBuffer; y: GrowingBuffer };
  #destroyed = false;

  private constructor(device: GPUDevice, rows: number, k: number, table: GpuBlob) {
    this.device = device;
    this.rows = rows;
    this.k = k;
    this.#table = table;
    this.#uniforms = new DispatchCache(device, "q5_K embedding");
    this.#scratch = {
      ids: new GrowingBuffer(
        device,
        "q5_K embedding ids",
        GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      ),
      y: new GrowingBuffer(
        device,
        "q5_K embedding y",
        GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      ),
    };
  }

  /**
   * Uploads a rows×K Q5_K table once.
   *
   * @param device A device, e.g. from {@linkcode requestDevice}.
   * @param table `rows · k/256 · 176` bytes.
   * @param options Shape.
   * @returns The table; call `destroy()` when done.
   * @throws {TypeError} If an argument has the wrong type.
   * @throws {RangeError} If a size is bad, the length does not match, or the device cannot hold it.
   */
  static create(device: GPUDevice, table: Uint8Array, options: Q5KEmbeddingOptions): Q5KEmbedding {
    const action = "create Q5_K embedding";
    deviceAndOptions(action, device, options);
    knownKeys(action, options, ["rows", "k"], ["maxBindingBytes"]);
    checkDevice(action, device);
    const maxBinding = bindingLimit(
      device,
      (options as Q5KEmbeddingOptions & EmbeddingInternals).maxBindingBytes,
    );
    const blob = uploadBlob(
      device,
      action,
      "table",
      table,
      options.rows,
      options.k,
      "rows",
      maxBinding,
    );
    watchDevice(device);
    return new Q5KEmbedding(device, options.rows, options.k, blob);
  }

  /**
   * Checks ids and converts them to the u32 words the kernel reads.
   *
   * @throws {TypeError} If ids is not an array of numbers or an integer typed array.
   * @throws {RangeError} If empty, or an id is not an integer in 0..rows-1.
   */
  #ids(action: string, ids: Ids): Uint32Array {
    if (this.#destroyed) throw new TypeError(`Cannot ${action}: the table was destroyed`);
    checkDevice(action, this.device);
    if (!(ids instanceof Int32Array || ids instanceof Uint32Array || Array.isArray(ids))) {
      throw new TypeError(
        `Cannot ${action}: ids must be an Int32Array, Uint32Array or number[], current value is ${
          show(ids)
        }`,
      );
    }
    if (ids.length === 0) {
      throw new RangeError(`Cannot ${action}: ids must not be empty, current value is []`);
    }
    const out = new Uint32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== "number") {
        throw new TypeError(
          `Cannot ${action}: ids must be numbers, current value at index ${i} is ${show(id)}`,
        );
      }
      if (!Number.isInteger(id) || id < 0 || id >= this.rows) {
        throw new RangeError(
          `Cannot ${action}: ids must be integers in 0..${
            this.rows - 1
          }, current value at index ${i} is ${id}`,
        );
      }
      out[i] = id;
    }
    return out;
  }

  /**
   * Records the gather into `encoder`: `ids` (u32 words on the GPU, already
   * range-checked by the caller) to `y` (count×K f32).
   *
   * @param encoder The command encoder.
   * @param ids A buffer or range of `count` u32 ids; an id ≥ `rows` yields a row of zeros.
   * @param y A buffer or range of at least count·k·4 bytes.
   * @param count Number of ids.
   * @param timestampWrites Optional GPU timestamps around the pass.
   * @throws {TypeError} If an argument has the wrong type or the table was destroyed.
   * @throws {RangeError} If count is bad or a buffer is too small.
   */
  encode(
    encoder: GPUCommandEncoder,
    ids: BufferRange,
    y: BufferRange,
    count: number,
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void {
    const action = "encode Q5_K embedding";
    instance(action, "encoder", encoder, GPUCommandEncoder, "GPUCommandEncoder");
    const [ib, yb] = this.#validate(action, encoder, ids, y, count);
    const pass = encoder.beginComputePass({ label: "q5_K embedding", timestampWrites });
    this.#record(pass, ib, yb, count);
    pass.end();
  }

  /**
   * Records the gather into a compute pass the caller has open (see
   * `Q5KLinear.record`), so that it shares the pass with other work.
   *
   * @param pass An open compute pass of the table's device.
   * @param ids A buffer or range of `count` u32 ids; an id ≥ `rows` yields a row of zeros.
   * @param y A buffer or range of at least count·k·4 bytes.
   * @param count Number of ids.
   * @throws {TypeError} If an argument has the wrong type or the table was destroyed.
   * @throws {RangeError} If count is bad or a buffer is too small.
   */
  record(pass: GPUComputePassEncoder, ids: BufferRange, y: BufferRange, count: number): void {
    const action = "record Q5_K embedding";
    instance(action, "pass", pass, GPUComputePassEncoder, "GPUComputePassEncoder");
    const [ib, yb] = this.#validate(action, pass, ids, y, count);
    this.#record(pass, ib, yb, count);
  }

  /** Checks everything an encode or record takes; returns the exact ids and y bindings. */
  #validate(
    action: string,
    recorder: GPUCommandEncoder | GPUComputePassEncoder,
    ids: unknown,
    y: unknown,
    count: unknown,
  ): Binding[] {
    if (this.#destroyed) throw new TypeError(`Cannot ${action}: the table was destroyed`);
    checkDevice(action, this.device);
    const n = positiveInt(action, "count", count);
    checkRecorder(
      action,
      this.device,
      recorder instanceof GPUCommandEncoder ? "encoder" : "pass",
      recorder,
    );
    return checkBuffers(action, this.device, [
      { name: "ids", value: ids, formula: "count·4", bytes: n * 4 },
      { name: "y", value: y, formula: "count·k·4", bytes: n * this.k * 4 },
    ]);
  }

  /** One dispatch per table binding for `count` ids, resolved once per count. */
  #plan(count: number): { spec: KernelSpec; table: BufferRange }[] {
    let plan = this.#plans.get(count);
    if (plan) return plan;
    plan = this.#table.chunks.map((chunk) => ({
      spec: embeddingKernel({
        count,
        k: this.k,
        row0: chunk.row0,
        rows: chunk.rows,
        tableRows: this.rows,
        maxWorkgroupsPerDimension: this.device.limits.maxComputeWorkgroupsPerDimension,
      }),
      table: { buffer: this.#table.buffer, offset: chunk.offset, size: chunk.size },
    }));
    // Bounded: a caller sweeping every count keeps only the latest plans.
    if (this.#plans.size >= MAX_PLANS) this.#plans.clear();
    this.#plans.set(count, plan);
    return plan;
  }

  #record(pass: GPUComputePassEncoder, ids: BufferRange, y: BufferRange, count: number): void {
    for (const { spec, table } of this.#plan(count)) {
      dispatch(this.device, pass, spec, this.#uniforms, [table, ids, y]);
    }
  }

  /**
   * Gathers the dequantized rows `ids` and reads them back.
   *
   * @param ids Row indices in 0..rows-1.
   * @returns ids.length × K floats, row-major.
   * @throws {TypeError} If ids has the wrong type or the table was destroyed.
   * @throws {RangeError} If ids is empty or holds an id out of range.
   * @throws {DeviceError} (rejects) If the device reports an error for this work or is lost.
   */
  async lookup(ids: Ids): Promise<Float32Array> {
    const action = "look up Q5_K embedding";
    const words = this.#ids(action, ids);
    const yBytes = words.length * this.k * 4;
    fitsBinding(action, "the output (ids·k·4 bytes)", yBytes, this.device);
    // Checked: only now does the table's state change.
    const idBuf = this.#scratch.ids.get(words.byteLength);
    const yBuf = this.#scratch.y.get(yBytes);
    const out = await submitAndRead(
      this.device,
      action,
      (encoder) => {
        this.device.queue.writeBuffer(idBuf, 0, words as Uint32Array<ArrayBuffer>);
        this.encode(
          encoder,
          { buffer: idBuf, size: words.byteLength },
          { buffer: yBuf, size: yBytes },
          words.length,
        );
      },
      yBuf,
      yBytes,
    );
    return new Float32Array(out);
  }

  /** Frees every GPU resource the table owns; later calls throw. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#table.buffer.destroy();
    this.#uniforms.destroy();
    this.#scratch.ids.destroy();
    this.#scratch.y.destroy();
  }
}
