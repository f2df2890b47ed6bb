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
