// Test support for the kernels on the tiled grid (tiled and lane-per-row):
// one random problem run through a kernel spec, with its split-K reduction.

import assert from "node:assert/strict";
import { compareNmse, referenceLinear } from "./compare.ts";
import {
  dispatch,
  DispatchCache,
  type KernelSpec,
  readBack,
  uploadStorage,
} from "../kernels/_gpu.ts";
import { dequantizeQ5K } from "../kernels/dequantize.ts";
import { makeQ5KBlob } from "../kernels/make_blob.ts";
import {
  splitReduceKernel,
  splitStride,
  type TiledConfig,
  type TiledShape,
} from "../kernels/tiled_kernel.ts";
import { quantizedXBytes, quantizeXKernel } from "../kernels/quantize_x_kernel.ts";
import { transposedXBytes, transposeXKernel } from "../kernels/transpose_x_kernel.ts";
import { uniformF32 } from "../kernels/_rng.ts";

/** A random problem for a kernel on the tiled grid. */
export interface TiledRun {
  m: number;
  n: number;
  k: number;
  /** K-slices the spec was made for (1: it writes y itself). */
  splits: number;
  seed: number;
  /** Whether y gets the bias (through the spec, or through the reduction when split). */
  bias: boolean;
  /** Whether the spec reads int8-quantized activations (quantized here first). */
  int8?: boolean;
  /** Whether the spec reads the activations K-major (transposed here first). */
  transposed?: boolean;
  /** Row stride of the spec's split-K partial sums (default n; `splitStride`). */
  stride?: number;
}

/**
 * Runs the spec `make` gives for the problem's shape (bindings: weights,
 * activations, y or the split-K partials, bias), adds the K-slices when
 * split, and returns y next to the f64 reference over the dequantized
 * weights, with the spec's name.
 */
export async function runTiledSpec(
  device: GPUDevice,
  run: TiledRun,
  make: (shape: TiledShape) => KernelSpec,
): Promise<{ got: Float32Array; want: Float64Array; name: string }> {
  const { m, n, k, splits, seed, stride = run.n } = run;
  const maxWorkgroupsPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
  const spec = make({ m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension, splits });
  const blob = makeQ5KBlob(n, k, { seed, mode: seed % 2 ? "edge" : "random" });
  const x = uniformF32(m * k, seed + 1, -2, 2);
  const bias = uniformF32(n, seed + 2, -1, 1);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  const w = uploadStorage(device, "test w", blob);
  const xb = uploadStorage(device, "test x", x);
  const bb = uploadStorage(device, "test bias", bias);
  const y = device.createBuffer({ size: m * n * 4, usage });
  const part = device.createBuffer({ size: splits * m * stride * 4, usage });
  const buffers = [w, xb, bb, y, part];
  const cache = new DispatchCache(device, "test");
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  let activations = [xb];
  if (run.int8) {
    const sizes = quantizedXBytes(m, k);
    const xq = device.createBuffer({ size: sizes.q, usage: GPUBufferUsage.STORAGE });
    const xs = device.createBuffer({ size: sizes.scales, usage: GPUBufferUsage.STORAGE });
    buffers.push(xq, xs);
    dispatch(device, pass, quantizeXKernel(m, k, maxWorkgroupsPerDimension), cache, [xb, xq, xs]);
    activations = [xq, xs];
  }
  if (run.transposed) {
    const xt = device.createBuffer({ size: transposedXBytes(m, k), usage: GPUBufferUsage.STORAGE });
    buffers.push(xt);
    dispatch(device, pass, transposeXKernel(m, k, maxWorkgroupsPerDimension), cache, [xb, xt]);
    activations = [xt];
  }
  if (splits > 1) {
    dispatch(device, pass, spec, cache, [w, ...activations, part]);
    const reduce = splitReduceKernel(m, n, splits, run.bias, maxWorkgroupsPerDimension, stride);
    dispatch(device, pass, reduce, cache, run.bias ? [part, y, bb] : [part, y]);
  } else {
    dispatch(device, pass, spec, cache, [w, ...activations, y, ...(run.bias ? [bb] : [])]);
  }
  pass.end();
  const got = new Float32Array(await readBack(device, y, m * n * 4, 0, encoder));
  const want = referenceLinear(x, dequantizeQ5K(blob), m, n, k);
  if (run.bias) want.forEach((v, i) => want[i] = v + bias[i % n]);
  for (const b of buffers) b.destroy();
  cache.destroy();
  return { got, want, name: spec.name };
}

/**
 * Runs the problem as {@linkcode runTiledSpec} does and asserts that y is
 * within `bound` (NMSE) of the f64 reference; `label` follows the spec's name
 * in the failure message.
 */
export async function assertTiledSpec(
  device: GPUDevice,
  run: TiledRun,
  make: (shape: TiledShape) => KernelSpec,
  bound: number,
  label = "",
): Promise<void> {
  const { got, want, name } = await runTiledSpec(device, run, make);
  const c = compareNmse(got, want, bound);
  const where = `m=${run.m} n=${run.n} k=${run.k} splits=${run.splits}`;
  assert.ok(c.ok, `${name}${label} ${where}: ${c.detail}`);
}

/**
 * Runs one tiled-kernel configuration of `kernel` (the library's or an
 * experiment's, same config and shape) against the f64 reference within
 * `bound`: m×n×k, `splits` K-slices (the bias then added by the reduction).
 */
export function assertTiledConfig<C extends TiledConfig>(
  device: GPUDevice,
  kernel: (cfg: C, shape: TiledShape) => KernelSpec,
  cfg: C,
  [m, n, k, splits, seed]: [number, number, number, number, number],
  bound: number,
  label: string,
): Promise<void> {
  const split = splits > 1;
  const make = (shape: TiledShape) => kernel({ ...cfg, bias: cfg.bias && !split, split }, shape);
  const run = {
    m,
    n,
    k,
    splits,
    seed,
    bias: cfg.bias,
    transposed: cfg.xT,
    stride: splitStride(cfg, n),
  };
  return assertTiledSpec(device, run, make, bound, label);
}
