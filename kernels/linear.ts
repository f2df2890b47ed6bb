/**
 * Q5_K linear layer on WebGPU: y = x·Wᵀ (+ bias) with W kept as raw
 * `block_q5_K` blocks.
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
  uploadStorage,
} from "./_gpu.ts";
import { watchDevice } from "./_tracking.ts";
import { rowScales, unscaleRows } from "./_row_scale.ts";
import { type GpuBlob, uploadBlob } from "./_weights.ts";
import { matvecKernel } from "./matvec_kernel.ts";
import { matvecConfigFor } from "./matvec_config.ts";
import { quantizedXBytes, quantizeXKernel } from "./quantize_x_kernel.ts";
import { transposedXBytes, transposeXKernel } from "./transpose_x_kernel.ts";
import {
  splitReduceKernel,
  splitsFor,
  splitsForWaves,
  splitStride,
  tallTiles,
  tiledKernel,
  tileFor,
} from "./tiled_kernel.ts";
import { tiledInt8Kernel } from "./tiled_int8_kernel.ts";
import { outerTileBytes } from "./_tiled_outer.ts";
import { ceilDiv } from "./dispatch.ts";
import {
  type Crossover,
  crossoverFor,
  familyFor,
  type KernelFamily,
  wideMatvecLimit,
} from "./crossover.ts";
import { rowLaneConfigFor, rowLaneGroups, rowLaneKernel, rowLaneSplits } from "./rowlane_kernel.ts";
import { subgroupLayout } from "./subgroup_layout.ts";
import {
  bindingLimit,
  deviceAndOptions,
  fitsBinding,
  floats,
  instance,
  knownKeys,
  positiveInt,
  show,
} from "./_validate.ts";

/** Which kernel family runs a linear layer. */
export type LinearVariant = "auto" | "matvec" | "rowlane" | "tiled";
/** How mat-vec partial sums are reduced. */
export type Reduction = "auto" | "subgroup" | "workgroup";
/** What the kernels multiply the weights with (see {@linkcode Q5KLinearOptions.activations}). */
export type Activations = "auto" | "f32" | "int8";

/** Options of {@linkcode Q5KLinear.create}. */
export interface Q5KLinearOptions {
  /** Output features: rows of W. */
  n: number;
  /** Input features: a multiple of 256. */
  k: number;
  /** Optional bias of length n. */
  bias?: Float32Array;
  /**
   * Kernel family; `"auto"` (default) picks by M at the device's crossover.
   * `"rowlane"` is the lane-per-row kernel for small batches.
   */
  variant?: LinearVariant;
  /** Mat-vec reduction; `"auto"` uses subgroups where the device granted them. */
  reduction?: Reduction;
  /**
   * `"auto"` (default): f32 accuracy (NMSE around 1e-14 to 1e-13 against
   * the f64 reference), by the faster of two ways: f32 products, or, for the
   * mat-vec at M up to `crossover.maxWideMatvecM` where WGSL has
   * `dot4I8Packed` (NVIDIA: M ≤ 4; measured), activations held as 24 bits
   * per 32 values (three int8 digits, exact to 2⁻²³ of the run's largest)
   * and multiplied exactly by `dot4I8Packed`. `"f32"`: f32 products always.
   * `"int8"` (opt-in): activations quantized to 8 bits per 32 values on the
   * GPU first and multiplied with `dot4I8Packed` by every kernel family, as
   * llama.cpp does; faster, with NMSE around 1e-5 (held to llama.cpp's 5e-4
   * bound). `"int8"` needs the WGSL feature `packed_4x8_integer_dot_product`.
   * {@linkcode Q5KLinear.activationsFor} says which runs at a batch size.
   */
  activations?: Activations;
}

/**
 * Options the tests, the bench and the conformance runs use to reach code
 * paths a device would not take by itself; not part of the public API
 * (`Q5KLinear.create` accepts them at run time, its type does not name them).
 */
export interface LinearInternals {
  /** Caps storage bindings below the device limit (tests the chunked path). */
  maxBindingBytes?: number;
  /** Overrides `crossover.transposedTiled` (tests the K-major tiled path anywhere). */
  transposedTiled?: boolean;
  /**
   * Overrides `crossover.tallTiledFromM` and the 48 KiB those tiles
   * need (tests them on lavapipe, which reports 32 KiB but runs them).
   */
  tallTiledFromM?: number;
  /**
   * Overrides `crossover.maxWideMatvecM` and
   * `maxSharedPassWideMatvecM` (0: none): the tests, the bench's
   * `matvec-int24` rows and the conformance runs take the 24-bit mat-vec
   * anywhere `dot4I8Packed` exists, at every M they run.
   */
  wideMatvecM?: number;
}

/** Types `options` with the internal keys for `Q5KLinear.create` (tests, bench, conformance). */
export function withInternals(options: Q5KLinearOptions & LinearInternals): Q5KLinearOptions {
  return options;
}

/** The dispatches that run one batch size, resolved once. */
interface Plan {
  /** The activation quantizer and the bytes of its outputs (int8 only). */
  quant: { spec: KernelSpec; bytes: { q: number; scales: number } } | null;
  /** The activation transpose and the bytes of its output (the K-major tiled kernel only). */
  transpose: { spec: KernelSpec; bytes: number } | null;
  /** One dispatch per weight binding. */
  chunks: { spec: KernelSpec; weights: BufferRange }[];
  /** Split-K only: the partial sums' bytes and the kernel that adds them. */
  reduce: { spec: KernelSpec; bytes: number } | null;
}

/**
 * The f32 tiled kernel's K-major form on transposed activations, where the
 * crossover asks for it (`Crossover.transposedTiled`), each step's global
 * loads at its start (H200, `bench/experiments/tiled_layouts.ts 128 512` at
 * 87b7cd4: M = 512 1622.0 / 1618.8 µs against 1628.0 / 1647.0 with the
 * register prefetch, 1674.4 / 1671.3 with a row's two threads TN lanes apart).
 */
const TRANSPOSED_TILED = { layout: "outer", xT: true, prefetch: false } as const;

const VARIANTS: readonly LinearVariant[] = ["auto", "matvec", "rowlane", "tiled"];
const REDUCTIONS: readonly Reduction[] = ["auto", "subgroup", "workgroup"];
const ACTIVATIONS: readonly Activations[] = ["auto", "f32", "int8"];
const PACKED_DOT = "packed_4x8_integer_dot_product";

/** Whether this runtime's WGSL has `dot4I8Packed` (the int8 path needs it). */
export function hasPackedDot(): boolean {
  const features = (navigator.gpu as { wgslLanguageFeatures?: ReadonlySet<string> })
    .wgslLanguageFeatures;
  return features?.has(PACKED_DOT) ?? false;
}

const OPTION_KEYS = ["n", "k", "bias", "variant", "reduction", "activations"];
const INTERNAL_KEYS = ["maxBindingBytes", "transposedTiled", "tallTiledFromM", "wideMatvecM"];

function oneOf<T extends string>(
  action: string,
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (!allowed.includes(value as T)) {
    throw new RangeError(
      `Cannot ${action}: ${name} must be one of ${allowed.join(", ")}, current value is ${
        show(value)
      }`,
    );
  }
  return value as T;
}

/**
 * A Q5_K linear layer whose N×K weights live on the GPU.
 *
 * @example GPU
 * ```ts ignore
 * import { makeQ5KBlob, Q5KLinear, requestDevice } from "@kquant/webgpu";
 * const device = await requestDevice();
 * const layer = Q5KLinear.create(device, makeQ5KBlob(4096, 4096), { n: 4096, k: 4096 });
 * const y = await layer.run(new Float32Array(4096).fill(0.5), 1); // 1×4096
 * layer.destroy();
 * ```
 */
export class Q5KLinear {
  /** The device the weights live on. */
  readonly device: GPUDevice;
  /** Output features (rows of W). */
  readonly n: number;
  /** Input features (a multiple of 256). */
  readonly k: number;
  /** The kernel family requested at creation. */
  readonly variant: LinearVariant;
  /** The reduction the mat-vec kernel uses on this device. */
  readonly reduction: "subgroup" | "workgroup";
  /**
   * `"auto"` uses mat-vec for M up to this, one pass per op (`run()`,
   * `encode()`; `crossover.maxInt8MatvecM` with int8 activations, at least
   * `crossover.maxWideMatvecM` where the 24-bit mat-vec runs). In `record()`
   * see {@linkcode Q5KLinear.kernelFor}.
   */
  readonly maxMatvecM: number;
  /** Where `"auto"` switches kernel families on this device, and why. */
  readonly crossover: Crossover;
  /** The activations requested at creation (see {@linkcode Q5KLinearOptions.activations}). */
  readonly activations: Activations;
  #weights: GpuBlob;
  #bias: GPUBuffer | null;
  /** The bias on the CPU, for outputs of rows run() scaled. */
  #biasValues: Float32Array | null;
  #subgroupMinSize: number;
  #uniforms: DispatchCache;
  #scratch: { x: GrowingBuffer; y: GrowingBuffer };
  #part: GrowingBuffer;
  #quantized: { q: GrowingBuffer; scales: GrowingBuffer };
  #transposed: GrowingBuffer;
  #transposedTiled: boolean;
  /** Whether the mat-vec may hold f32 activations as 24 bits (`"auto"` with `dot4I8Packed`). */
  #wide: boolean;
  /** From this M the K-major kernel takes 256-row tiles (0: never), and whether regardless of the device's limit. */
  #tall: { fromM: number; forced: boolean };
  #plans = new Map<number, Plan>();
  #destroyed = false;

  private constructor(
    device: GPUDevice,
    n: number,
    k: number,
    variant: LinearVariant,
    reduction: "subgroup" | "workgroup",
    weights: GpuBlob,
    bias: GPUBuffer | null,
    biasValues: Float32Array | null,
    activations: Activations,
    transposedTiled: boolean | undefined,
    tallTiledFromM: number | undefined,
    wideMatvecM: number | undefined,
  ) {
    this.device = device;
    this.n = n;
    this.k = k;
    this.variant = variant;
    this.reduction = reduction;
    const measured = crossoverFor(device.adapterInfo);
    this.crossover = wideMatvecM === undefined
      ? measured
      : { ...measured, maxWideMatvecM: wideMatvecM, maxSharedPassWideMatvecM: wideMatvecM };
    this.#wide = activations === "auto" && hasPackedDot() &&
      (this.crossover.maxWideMatvecM ?? 0) > 0;
    this.maxMatvecM = activations === "int8"
      ? this.crossover.maxInt8MatvecM
      : Math.max(this.crossover.maxMatvecM, this.#wide ? this.crossover.maxWideMatvecM ?? 0 : 0);
    this.#weights = weights;
    this.#bias = bias;
    this.#biasValues = biasValues;
    this.activations = activations;
    this.#subgroupMinSize = reduction === "subgroup" ? subgroupLayout(device).minSize : 0;
    this.#uniforms = new DispatchCache(device, "q5_K linear");
    const copyable = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    this.#scratch = {
      x: new GrowingBuffer(device, "q5_K linear x", copyable),
      y: new GrowingBuffer(device, "q5_K linear y", copyable),
    };
    this.#part = new GrowingBuffer(device, "q5_K linear split-K partials");
    this.#quantized = {
      q: new GrowingBuffer(device, "q5_K linear quantized x"),
      scales: new GrowingBuffer(device, "q5_K linear quantized x scales"),
    };
    this.#transposed = new GrowingBuffer(device, "q5_K linear K-major x");
    this.#transposedTiled = transposedTiled ?? this.crossover.transposedTiled ?? false;
    this.#tall = {
      fromM: tallTiledFromM ?? this.crossover.tallTiledFromM ?? 0,
      forced: tallTiledFromM !== undefined,
    };
  }

  /**
   * Uploads the N×K Q5_K weight blob (row-major: N rows of K/256 blocks) once.
   *
   * @param device A device, e.g. from {@linkcode requestDevice}.
   * @param weights `n · k/256 · 176` bytes.
   * @param options Shape, bias, variant.
   * @returns The layer; call `destroy()` when done.
   * @throws {TypeError} If an argument has the wrong type.
   * @throws {RangeError} If a size is bad, lengths do not match, or the device cannot hold the weights.
   */
  static create(device: GPUDevice, weights: Uint8Array, options: Q5KLinearOptions): Q5KLinear {
    const action = "create Q5_K linear";
    deviceAndOptions(action, device, options);
    const internals = options as Q5KLinearOptions & LinearInternals;
    knownKeys(action, options, OPTION_KEYS, INTERNAL_KEYS);
    checkDevice(action, device);
    const { n, k } = options;
    positiveInt(action, "n", n);
    const variant = oneOf(
      action,
      "variant",
      options.variant === undefined ? "auto" : options.variant,
      VARIANTS,
    );
    const wanted = oneOf(
      action,
      "reduction",
      options.reduction === undefined ? "auto" : options.reduction,
      REDUCTIONS,
    );
    const hasSubgroups = device.features.has("subgroups" as GPUFeatureName);
    if (wanted === "subgroup" && !hasSubgroups) {
      throw new RangeError(
        `Cannot ${action}: reduction "subgroup" needs a device with the subgroups feature, current value is "subgroup"`,
      );
    }
    // The butterflies need subgroups laid out over consecutive invocations
    // (checked by requestDevice()) of WebGPU's 4 lanes or more.
    const layout = subgroupLayout(device);
    const usable = hasSubgroups && layout.linear && layout.minSize >= 4;
    if (wanted === "subgroup" && !usable) {
      throw new RangeError(
        `Cannot ${action}: reduction "subgroup" needs consecutive subgroups of at least 4 lanes, current value is ${
          layout.linear ? `size ${layout.minSize}` : "a non-consecutive layout"
        }`,
      );
    }
    const reduction = wanted === "auto" ? (usable ? "subgroup" : "workgroup") : wanted;
    const activations = oneOf(
      action,
      "activations",
      options.activations === undefined ? "auto" : options.activations,
      ACTIVATIONS,
    );
    if (activations === "int8" && !hasPackedDot()) {
      throw new RangeError(
        `Cannot ${action}: activations "int8" needs the WGSL language feature ${PACKED_DOT}, which this runtime lacks; current value is "int8"`,
      );
    }
    if (options.bias !== undefined) {
      floats(action, "bias", options.bias);
      if (options.bias.length !== n) {
        throw new RangeError(
          `Cannot ${action}: bias length must equal n = ${n}, current value is ${options.bias.length}`,
        );
      }
    }
    const transposed = internals.transposedTiled;
    if (transposed !== undefined && typeof transposed !== "boolean") {
      throw new TypeError(
        `Cannot ${action}: transposedTiled must be a boolean, current value is ${show(transposed)}`,
      );
    }
    const tall = internals.tallTiledFromM;
    if (tall !== undefined) positiveInt(action, "tallTiledFromM", tall);
    const wide = internals.wideMatvecM;
    if (wide !== undefined && wide !== 0) positiveInt(action, "wideMatvecM", wide);
    const maxBinding = bindingLimit(device, internals.maxBindingBytes);
    const blob = uploadBlob(device, action, "weights", weights, n, k, "n", maxBinding);
    watchDevice(device);
    const bias = options.bias ? uploadStorage(device, "q5_K linear bias", options.bias) : null;
    return new Q5KLinear(
      device,
      n,
      k,
      variant,
      reduction,
      blob,
      bias,
      options.bias ? options.bias.slice() : null,
      activations,
      transposed,
      tall,
      wide,
    );
  }

  /**
   * The kernel family that runs batch size `m`: one pass per op (`run()`,
   * `encode()`), or, with `shared`, an op recorded into a pass it shares with
   * others (`record()`), where `"auto"` may switch to the lane-per-row kernel
   * at a smaller M (`crossover.maxSharedPassMatvecM`).
   *
   * @param m Batch size.
   * @param shared Whether the op shares its compute pass (default false).
   * @returns The family: the requested variant, or `"auto"`'s choice.
   * @throws {RangeError} If m is not a positive integer.
   * @throws {TypeError} If shared is not a boolean.
   */
  kernelFor(m: number, shared = false): KernelFamily {
    const family = familyFor(
      this.crossover,
      m,
      this.activations === "int8",
      shared,
      this.#wide,
    );
    return this.variant === "auto" ? family : this.variant;
  }

  /**
   * What the kernels multiply the weights with at batch size `m`: `"int8"`
   * with int8 activations; `"int24"` where the mat-vec holds the f32
   * activations as 24 bits per 32 (`activations: "auto"`, M up to
   * `crossover.maxWideMatvecM`, in a shared pass `maxSharedPassWideMatvecM`,
   * `dot4I8Packed` in WGSL); `"f32"` otherwise.
   *
   * @param m Batch size.
   * @param shared Whether the op shares its compute pass (default false).
   * @returns `"f32"`, `"int24"` or `"int8"`.
   * @throws {RangeError} If m is not a positive integer.
   * @throws {TypeError} If shared is not a boolean.
   */
  activationsFor(m: number, shared = false): "f32" | "int24" | "int8" {
    const family = this.kernelFor(m, shared);
    if (this.activations === "int8") return "int8";
    const limit = wideMatvecLimit(this.crossover, shared);
    return this.#wide && family === "matvec" && m <= limit ? "int24" : "f32";
  }

  #check(action: string, m: unknown): number {
    if (this.#destroyed) throw new TypeError(`Cannot ${action}: the layer was destroyed`);
    checkDevice(action, this.device);
    return positiveInt(action, "m", m);
  }

  /**
   * Records y = x·Wᵀ (+ bias) into `encoder` as one compute pass, with
   * GPU-resident buffers; no readback.
   *
   * @param encoder The command encoder to record into.
   * @param x M×K f32 activations (row-major), a buffer or range of at least m·k·4 bytes.
   * @param y M×N f32 output, a buffer or range of at least m·n·4 bytes.
   * @param m Batch size.
   * @param timestampWrites Optional GPU timestamps around the pass.
   * @throws {TypeError} If an argument has the wrong type or the layer was destroyed.
   * @throws {RangeError} If m is bad or a buffer is too small.
   */
  encode(
    encoder: GPUCommandEncoder,
    x: BufferRange,
    y: BufferRange,
    m: number,
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void {
    const action = "encode Q5_K linear";
    instance(action, "encoder", encoder, GPUCommandEncoder, "GPUCommandEncoder");
    const [xb, yb] = this.#validate(action, encoder, x, y, m);
    // Everything is checked: from here on nothing throws for the caller's input.
    const pass = encoder.beginComputePass({ label: "q5_K linear", timestampWrites });
    this.#record(pass, xb, yb, m, false);
    pass.end();
  }

  /**
   * Records y = x·Wᵀ (+ bias) into a compute pass the caller has open, so that
   * several layers share one pass: on an H200 an empty dispatch cost 0.7–4.2
   * µs of GPU time inside an open pass against 6.3 µs as a pass of its own.
   * The layer's dispatches (one more for quantized activations or split-K) follow
   * each other in the pass; WebGPU orders them after earlier writes to x.
   * With `variant: "auto"` the kernel is chosen for a shared pass
   * (`kernelFor(m, true)`): on NVIDIA the lane-per-row kernel from M = 2.
   *
   * @param pass An open compute pass of the layer's device.
   * @param x M×K f32 activations (row-major), a buffer or range of at least m·k·4 bytes.
   * @param y M×N f32 output, a buffer or range of at least m·n·4 bytes.
   * @param m Batch size.
   * @throws {TypeError} If an argument has the wrong type or the layer was destroyed.
   * @throws {RangeError} If m is bad or a buffer is too small.
   */
  record(pass: GPUComputePassEncoder, x: BufferRange, y: BufferRange, m: number): void {
    const action = "record Q5_K linear";
    instance(action, "pass", pass, GPUComputePassEncoder, "GPUComputePassEncoder");
    const [xb, yb] = this.#validate(action, pass, x, y, m);
    this.#record(pass, xb, yb, m, true);
  }

  /** Checks everything an encode or record takes; returns the exact x and y bindings. */
  #validate(
    action: string,
    recorder: GPUCommandEncoder | GPUComputePassEncoder,
    x: unknown,
    y: unknown,
    m: unknown,
  ): Binding[] {
    const rows = this.#check(action, m);
    checkRecorder(
      action,
      this.device,
      recorder instanceof GPUCommandEncoder ? "encoder" : "pass",
      recorder,
    );
    return checkBuffers(action, this.device, [
      { name: "x", value: x, formula: "m·k·4", bytes: rows * this.k * 4 },
      { name: "y", value: y, formula: "m·n·4", bytes: rows * this.n * 4 },
    ]);
  }

  /** The kernels that run batch size `m` (in a shared pass or not), resolved once each. */
  #plan(m: number, shared: boolean): Plan {
    const key = shared ? -m : m;
    let plan = this.#plans.get(key);
    if (plan) return plan;
    const family = this.kernelFor(m, shared);
    const wide = this.activationsFor(m, shared) === "int24";
    const planes = wide ? 3 : 1;
    const maxDim = this.device.limits.maxComputeWorkgroupsPerDimension;
    const storage = this.device.limits.maxComputeWorkgroupStorageSize;
    const rowsTile = tileFor(storage, m);
    const int8 = this.activations === "int8";
    const lanes = rowLaneConfigFor(m, storage, false, false, int8);
    const chunks = this.#weights.chunks;
    const nb = this.k / 256;
    // The K-major tiled form needs tiles of 64 rows or more and its transposed
    // activations (rows padded to 4) in one binding.
    const transposed = family === "tiled" && !int8 && this.#transposedTiled &&
      rowsTile.tm >= 64 &&
      transposedXBytes(m, this.k) <= this.device.limits.maxStorageBufferBindingSize;
    // From `tallTiledFromM`, 256-row tiles (48 KiB) where the device gives that
    // much and they pad M no further than 128-row ones.
    const tall = transposed && tallTiles(m, this.#tall.fromM) &&
      (this.#tall.forced || storage >= outerTileBytes(256, 128));
    const { tm, tn, padded } = tall
      ? { ...rowsTile, tm: 256 as const, tn: 128 as const }
      : rowsTile;
    const tiles = ceilDiv(this.n, tn) * ceilDiv(m, tm);
    const slots = this.crossover.tiledWaveSlots;
    // Split-K only with one weight binding (the partial sums index all of N).
    let splits = chunks.length > 1 || family === "matvec"
      ? 1
      : family === "tiled"
      ? (transposed && slots ? splitsForWaves(tiles, nb, slots) : splitsFor(tiles, nb))
      : rowLaneSplits(lanes, rowLaneGroups(lanes, m, this.n), nb);
    const stride = splitStride(transposed ? TRANSPOSED_TILED : {}, this.n);
    if (splits > 1 && splits * m * stride * 4 > this.device.limits.maxStorageBufferBindingSize) {
      splits = 1;
    }
    const split = splits > 1;
    // y a vec4 at a time where every chunk starts at a multiple of 4 columns.
    const vec4Out = transposed && this.n % 4 === 0 && chunks.every((c) => c.row0 % 4 === 0);
    plan = {
      quant: int8 || wide
        ? {
          spec: quantizeXKernel(m, this.k, maxDim, planes),
          bytes: quantizedXBytes(m, this.k, planes),
        }
        : null,
      transpose: transposed
        ? { spec: transposeXKernel(m, this.k, maxDim), bytes: transposedXBytes(m, this.k) }
        : null,
      chunks: chunks.map((chunk) => {
        const shape = {
          m,
          n: this.n,
          k: this.k,
          row0: chunk.row0,
          rows: chunk.rows,
          maxWorkgroupsPerDimension: maxDim,
          splits,
        };
        const spec = family === "matvec"
          ? matvecKernel(
            matvecConfigFor(
              m,
              this.k,
              this.#subgroupMinSize,
              this.reduction === "workgroup",
              this.#bias !== null,
              int8 || wide,
              planes,
            ),
            shape,
          )
          : family === "rowlane"
          ? rowLaneKernel({ ...lanes, bias: this.#bias !== null && !split, split }, shape)
          : (int8 ? tiledInt8Kernel : tiledKernel)(
            {
              tm,
              tn,
              padded,
              bias: this.#bias !== null && !split,
              split,
              ...(transposed ? TRANSPOSED_TILED : {}),
              vec4Out,
            },
            shape,
          );
        return {
          spec,
          weights: { buffer: this.#weights.buffer, offset: chunk.offset, size: chunk.size },
        };
      }),
      reduce: split
        ? {
          spec: splitReduceKernel(m, this.n, splits, this.#bias !== null, maxDim, stride),
          bytes: splits * m * stride * 4,
        }
        : null,
    };
    // Bounded: a caller sweeping every M keeps only the latest plans.
    if (this.#plans.size >= MAX_PLANS) this.#plans.clear();
    this.#plans.set(key, plan);
    return plan;
  }

  #record(
    pass: GPUComputePassEncoder,
    x: BufferRange,
    y: BufferRange,
    m: number,
    shared: boolean,
  ): void {
    const plan = this.#plan(m, shared);
    const part = plan.reduce ? this.#part.get(plan.reduce.bytes) : null;
    let xq: { q: GPUBuffer; scales: GPUBuffer } | null = null;
    if (plan.quant) {
      xq = {
        q: this.#quantized.q.get(plan.quant.bytes.q),
        scales: this.#quantized.scales.get(plan.quant.bytes.scales),
      };
      dispatch(this.device, pass, plan.quant.spec, this.#uniforms, [x, xq.q, xq.scales]);
    }
    let xt: GPUBuffer | null = null;
    if (plan.transpose) {
      xt = this.#transposed.get(plan.transpose.bytes);
      dispatch(this.device, pass, plan.transpose.spec, this.#uniforms, [x, xt]);
    }
    for (const { spec, weights } of plan.chunks) {
      const storage: BufferRange[] = xq
        ? [weights, xq.q, xq.scales, part ?? y]
        : [weights, xt ?? x, part ?? y];
      if (this.#bias && !part) storage.push(this.#bias);
      dispatch(this.device, pass, spec, this.#uniforms, storage);
    }
    if (plan.reduce && part) {
      const storage: BufferRange[] = [part, y];
      if (this.#bias) storage.push(this.#bias);
      dispatch(this.device, pass, plan.reduce.spec, this.#uniforms, storage);
    }
  }

  /**
   * Computes y = x·Wᵀ (+ bias) and reads it back.
   *
   * Every row of x whose largest |value| lies outside 2⁻⁶⁴…2⁶⁴ is scaled by a
   * power of two first and its outputs scaled back (exact unless a value
   * leaves f32's range), so tiny and huge but finite activations keep the
   * usual accuracy on every kernel family; `encode()` and `record()` leave
   * that range to the caller (see the module's contract).
   *
   * @param x M×K activations, row-major, every value finite.
   * @param m Batch size M.
   * @returns M×N outputs, row-major.
   * @throws {TypeError} If x is not a Float32Array or the layer was destroyed.
   * @throws {RangeError} If m is not a positive integer, x.length ≠ m·k, x holds
   * NaN or ±Inf, or x or y exceeds one storage binding.
   * @throws {DeviceError} (rejects) If the device reports an error for this work or is lost.
   */
  async run(x: Float32Array, m: number): Promise<Float32Array> {
    const action = "run Q5_K linear";
    this.#check(action, m);
    floats(action, "x", x);
    if (x.length !== m * this.k) {
      throw new RangeError(
        `Cannot ${action}: x length must be m·k = ${m * this.k}, current value is ${x.length}`,
      );
    }
    const yBytes = m * this.n * 4;
    fitsBinding(action, "x (m·k·4 bytes)", x.byteLength, this.device);
    fitsBinding(action, "y (m·n·4 bytes)", yBytes, this.device);
    const scales = rowScales(action, x, m, this.k);
    // Checked: only now does the layer's state change.
    const xBuf = this.#scratch.x.get(x.byteLength);
    const yBuf = this.#scratch.y.get(yBytes);
    const input = scales ? scales.scaled : x;
    const out = await submitAndRead(
      this.device,
      action,
      (encoder) => {
        this.device.queue.writeBuffer(xBuf, 0, input as Float32Array<ArrayBuffer>);
        this.encode(
          encoder,
          { buffer: xBuf, size: x.byteLength },
          { buffer: yBuf, size: yBytes },
          m,
        );
      },
      yBuf,
      yBytes,
    );
    const y = new Float32Array(out);
    if (scales) unscaleRows(y, scales.exponents, this.n, this.#biasValues);
    return y;
  }

  /** Frees every GPU resource the layer owns; later calls throw. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#weights.buffer.destroy();
    this.#bias?.destroy();
    this.#uniforms.destroy();
    this.#scratch.x.destroy();
    this.#scratch.y.destroy();
    this.#part.destroy();
    this.#quantized.q.destroy();
    this.#quantized.scales.destroy();
    this.#transposed.destroy();
  }
}
