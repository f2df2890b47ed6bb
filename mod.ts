/**
 * GGUF Q5_K quantized kernels for WebGPU: the block codec on the CPU (bit-exact
 * with llama.cpp), and WGSL kernels for linear (y = x·Wᵀ) and embedding that
 * read raw 176-byte `block_q5_K` blobs.
 *
 * ```ts
 * import { dequantizeQ5K, makeQ5KBlob, quantizeQ5K } from "@kquant/webgpu";
 *
 * const x = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 7));
 * const blob = quantizeQ5K(x); // 2 blocks, 352 bytes, as llama.cpp writes them
 * const back = dequantizeQ5K(blob);
 * console.log(blob.length, back.length); // 352 512
 * const w = makeQ5KBlob(16, 256, { seed: 1, mode: "edge" });
 * ```
 *
 * ## Contract
 *
 * What every entry point promises, and the inputs outside it:
 *
 * - **Bad arguments throw before anything happens.** A wrong type is a
 *   `TypeError`, a wrong size, range or value a `RangeError`; the message
 *   names the value. Nothing is recorded into the caller's encoder or pass
 *   and no state changes, so the object keeps working.
 * - **Buffers passed to `encode()`/`record()` are checked**: a buffer or
 *   `{ buffer, offset?, size? }` of the object's device, not destroyed, with
 *   `GPUBufferUsage.STORAGE`, the offset a multiple of
 *   `minStorageBufferOffsetAlignment` and inside the buffer, holding the bytes
 *   needed (which must fit one storage binding), x and y on different
 *   buffers; the encoder or pass of the same device and still recording.
 *   Buffers and encoders created before this module was imported cannot be
 *   traced to their device or destroyed state and pass those two checks.
 * - **Device errors reach the caller.** `run()` and `lookup()` reject with a
 *   {@linkcode DeviceError} when the device reports a validation or
 *   out-of-memory error for their work or is lost ("the device was
 *   destroyed"). Work recorded by `encode()`/`record()` is submitted by the
 *   caller, whose error scopes see such errors.
 * - **Activations.** `run()` takes finite values only (NaN and ±Inf are a
 *   `RangeError` naming the index) and keeps the usual accuracy for any
 *   finite row: rows whose largest |x| lies outside 2⁻⁶⁴…2⁶⁴ are scaled by a
 *   power of two and scaled back. `encode()` and `record()` read x on the GPU
 *   and cannot check it: there, rows must be finite with their largest |x|
 *   inside 2⁻⁶⁴…2⁶⁴, or the 24-bit and int8 paths may underflow and the f32
 *   mat-vec overflow.
 * - **Accuracy.** Linear: NMSE ≤ 1e-10 against an f64 reference over
 *   llama.cpp's dequantized weights with f32 and 24-bit activations; with
 *   `activations: "int8"`, ≤ 5e-4 and within 1.5× of ideal per-32 8-bit
 *   quantization. Embedding: within 1 ulp of llama.cpp's `ggml_get_rows`.
 * - **Outputs** are written only inside the bytes of y the call needs
 *   (sentinels around every output in the conformance suite check it).
 *
 * @module
 */

export { f16BitsToF32, f32ToF16Bits } from "./kernels/f16.ts";
export { Q5K_BLOCK_BYTES, Q5K_BLOCK_WEIGHTS, Q5K_GGML_TYPE } from "./kernels/q5k_format.ts";
export { dequantizeQ5K } from "./kernels/dequantize.ts";
export { quantizeQ5K } from "./kernels/quantize.ts";
export { makeQ5KBlob } from "./kernels/make_blob.ts";
export type { MakeQ5KBlobOptions, Q5KBlobMode } from "./kernels/make_blob.ts";
export { NO_ADAPTER_HELP, requestDevice, requestDeviceFrom } from "./kernels/device.ts";
export type { RequestDeviceOptions } from "./kernels/device.ts";
export { hasPackedDot, Q5KLinear } from "./kernels/linear.ts";
export type { Activations, LinearVariant, Q5KLinearOptions, Reduction } from "./kernels/linear.ts";
export { Q5KEmbedding } from "./kernels/embedding.ts";
export type { Ids, Q5KEmbeddingOptions } from "./kernels/embedding.ts";
export { crossoverFor, familyFor } from "./kernels/crossover.ts";
export type { Crossover, KernelFamily } from "./kernels/crossover.ts";
export { DeviceError } from "./kernels/_gpu.ts";
export type { BufferRange, DeviceErrorKind } from "./kernels/_gpu.ts";
export { foldWorkgroups } from "./kernels/dispatch.ts";
export { probeSubgroupLayout, subgroupLayout } from "./kernels/subgroup_layout.ts";
export type { SubgroupLayout } from "./kernels/subgroup_layout.ts";
export { checkImplementation } from "./kernels/implementation.ts";
export type { EmbeddingImpl, Implementation, LinearImpl } from "./kernels/implementation.ts";
export { describeLayer, q5kImplementation } from "./kernels/q5k_implementation.ts";
export type { Q5KImplementationOptions } from "./kernels/q5k_implementation.ts";
export { blobSource, bytesSource, openGGUF, pathSource, readTensor } from "./gguf/reader.ts";
export type {
  ByteSource,
  GGUFFile,
  GGUFTensorInfo,
  GGUFValue,
  GGUFValueType,
} from "./gguf/reader.ts";
export { embeddingFromGGUF, linearFromGGUF, q5kShape, summarizeGGUF } from "./gguf/q5k_tensors.ts";
export type { GGUFSummary } from "./gguf/q5k_tensors.ts";
