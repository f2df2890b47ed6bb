/**
 * The seam between what is checked and timed and the checker and timer: an
 * {@linkcode Implementation} of Q5_K linear and/or embedding on WebGPU. The
 * conformance suite (`conform --impl`) and the bench (`bench --impl`) run
 * anyone's implementation through it, this library's included, so a WGSL
 * kernel written anywhere gets llama.cpp-exact vectors and the same
 * latency-vs-M table.
 *
 * A module default-exports an implementation:
 *
 * ```ts ignore
 * import type { Implementation } from "@kquant/webgpu";
 *
 * const mine: Implementation = {
 *   name: "my-q5k",
 *   linear(device, weights, { n, k }) {
 *     // upload the raw block_q5_K bytes (n rows of k/256 blocks of 176 bytes) once
 *     return {
 *       async run(x, m) { return new Float32Array(m * n); }, // y = x·Wᵀ, M×N
 *       encode(encoder, x, y, m, timestampWrites) {}, // optional: one compute pass, for timing
 *       record(pass, x, y, m) {}, // optional: into an open pass (the shared-pass column)
 *       destroy() {},
 *     };
 *   },
 *   embedding(device, table, { rows, k }) {
 *     return { async lookup(ids) { return new Float32Array(ids.length * k); }, destroy() {} };
 *   },
 * };
 * export default mine;
 * ```
 *
 * `examples/naive_q5k.ts` is a whole, readable one.
 *
 * @module
 */

import type { BufferRange } from "./_gpu.ts";

/** A linear layer y = x·Wᵀ over N×K Q5_K weights, as an implementation makes it. */
export interface LinearImpl {
  /**
   * Computes y = x·Wᵀ for M×K activations (row-major) and reads it back.
   *
   * @returns M×N outputs, row-major.
   */
  run(x: Float32Array, m: number): Promise<Float32Array>;
  /**
   * Optional: records y = x·Wᵀ into `encoder` as one compute pass, x and y
   * on the GPU, with `timestampWrites` on that pass. The bench times per pass
   * with it (else by wall clock around `run()`, labelled so), and the
   * conformance suite checks with guards around y that nothing is written
   * outside it.
   */
  encode?(
    encoder: GPUCommandEncoder,
    x: BufferRange,
    y: BufferRange,
    m: number,
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void;
  /** Optional: records the same into an open compute pass (the bench's shared-pass column). */
  record?(pass: GPUComputePassEncoder, x: BufferRange, y: BufferRange, m: number): void;
  /**
   * Optional: a label for what runs at batch size `m`, one pass per op or
   * (`shared`) recorded into a shared pass, e.g. a kernel name; shown beside
   * results.
   */
  describe?(m: number, shared?: boolean): string;
  /** Frees the layer's GPU resources. */
  destroy(): void;
}

/** An embedding table of rows×K Q5_K weights, as an implementation makes it. */
export interface EmbeddingImpl {
  /**
   * Gathers and dequantizes rows `ids`.
   *
   * @returns ids.length × K floats, row-major.
   */
  lookup(ids: Int32Array | Uint32Array | readonly number[]): Promise<Float32Array>;
  /**
   * Optional: records the gather into `encoder` as one compute pass, `count`
   * u32 ids on the GPU, with `timestampWrites` on that pass.
   */
  encode?(
    encoder: GPUCommandEncoder,
    ids: BufferRange,
    y: BufferRange,
    count: number,
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void;
  /** Optional: records the gather into an open compute pass. */
  record?(pass: GPUComputePassEncoder, ids: BufferRange, y: BufferRange, count: number): void;
  /** Frees the table's GPU resources. */
  destroy(): void;
}

/** Q5_K linear and/or embedding on WebGPU, as `conform --impl` and `bench --impl` load it. */
export interface Implementation {
  /** A short name for result lines and bench rows. */
  name: string;
  /** Device features the implementation needs; a device without one skips it, saying so. */
  features?: readonly GPUFeatureName[];
  /**
   * Optional: why the implementation cannot run on `device` beyond missing
   * features (e.g. subgroups too narrow), or null where it can; the suite
   * then counts it as skipped with that reason, never as passed.
   */
  unsupported?(device: GPUDevice): string | null;
  /**
   * The bound the conformance suite holds linear to: `"f32"` (default) NMSE
   * ≤ 1e-10 against the f64 reference, for f32 or wider activations;
   * `"int8"` llama.cpp's own 5e-4, for 8-bit activations.
   */
  precision?: "f32" | "int8";
  /**
   * Makes a linear layer from raw `block_q5_K` bytes: N rows of K/256 blocks
   * of 176 bytes (K a multiple of 256).
   */
  linear?(
    device: GPUDevice,
    weights: Uint8Array,
    shape: { n: number; k: number },
  ): LinearImpl | Promise<LinearImpl>;
  /** Makes an embedding table from raw `block_q5_K` bytes: `rows` rows of K/256 blocks. */
  embedding?(
    device: GPUDevice,
    table: Uint8Array,
    shape: { rows: number; k: number },
  ): EmbeddingImpl | Promise<EmbeddingImpl>;
}

/**
 * Checks that a loaded module's default export is an implementation, naming
 * what is wrong: no name, no factory, a factory that is not a function.
 *
 * @param value The module's default export.
 * @param source Where it came from, for the message.
 * @returns The implementation.
 * @throws {TypeError} Naming the source and the missing or mistyped member.
 * @example
 * ```ts
 * import { checkImplementation } from "@kquant/webgpu";
 * checkImplementation({ name: "x", linear: () => ({ run: async () => new Float32Array(), destroy() {} }) }, "inline");
 * ```
 */
export function checkImplementation(value: unknown, source: string): Implementation {
  const impl = value as Partial<Implementation> | null;
  const fail = (what: string) => {
    throw new TypeError(`Cannot load implementation ${source}: ${what}`);
  };
  if (impl === null || typeof impl !== "object") {
    fail(`the module's default export must be an object, current value is ${String(value)}`);
  }
  if (typeof impl!.name !== "string" || impl!.name === "") {
    fail("it must have a non-empty name");
  }
  if (impl!.linear === undefined && impl!.embedding === undefined) {
    fail("it must have a linear or an embedding factory, current value has neither");
  }
  for (const key of ["linear", "embedding"] as const) {
    if (impl![key] !== undefined && typeof impl![key] !== "function") {
      fail(`${key} must be a function, current value is ${typeof impl![key]}`);
    }
  }
  if (impl!.precision !== undefined && impl!.precision !== "f32" && impl!.precision !== "int8") {
    fail(`precision must be "f32" or "int8", current value is ${String(impl!.precision)}`);
  }
  if (impl!.features !== undefined && !Array.isArray(impl!.features)) {
    fail("features must be an array of GPUFeatureName");
  }
  return impl as Implementation;
}
