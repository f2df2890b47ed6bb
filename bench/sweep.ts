/**
 * The benchmark sweep: Q5_K linear across M and embedding across id counts,
 * each against the read ceiling measured in the same run, a dense f16 kernel
 * of the same shape and, on request, llama.cpp's own backend.
 *
 * @module
 */

import { hasPackedDot } from "../kernels/linear.ts";
import type { Implementation, LinearImpl } from "../kernels/implementation.ts";
import { q5kImplementation, type Q5KImplementationOptions } from "../kernels/q5k_implementation.ts";
import { makeQ5KBlob } from "../kernels/make_blob.ts";
import { dispatch, DispatchCache } from "../kernels/_gpu.ts";
import { type Crossover, crossoverFor } from "../kernels/crossover.ts";
import { mulberry32 } from "../kernels/_rng.ts";
import { ceilDiv } from "../kernels/dispatch.ts";
import { type Clock, type EncodeFn, GpuTimer, type MeasureOptions, type Timing } from "./timing.ts";
import { ceilingKernel } from "./ceiling_kernel.ts";
import { denseMatvecKernel, denseTiledKernel } from "./dense_kernel.ts";
import { type GgmlBench, openGgmlBench } from "./llamacpp.ts";

/** A linear weight shape: N output rows of K inputs. */
export interface Shape {
  n: number;
  k: number;
  /**
   * The weights of copy `copy` (a GGUF file's tensors of this shape, in
   * turn); seeded random blocks when absent. Called once per layer made, so
   * at most the copies being timed are in host memory.
   */
  weights?: (copy: number) => Promise<Uint8Array>;
  /** The tensors that share the shape (a GGUF file's), listed with the row and counted in the whole-model sum. */
  names?: string[];
}

/** The embedding sweep: a rows×K table and the id counts. */
export interface EmbeddingConfig {
  rows: number;
  k: number;
  counts: number[];
  /** The table's bytes (a GGUF file's `token_embd`); seeded random blocks when absent. */
  table?: () => Promise<Uint8Array>;
  /** The tensor the table comes from. */
  name?: string;
}

/**
 * Per M, the sum over every tensor of a GGUF file of its shape's median:
 * the Q5_K matmul time of one model step, for one implementation row.
 */
export interface ModelSum {
  /** `kquant` or a `--impl` module's name. */
  impl: string;
  /** The bench variant (`auto`, `tiled`, …) or the implementation's name. */
  variant: string;
  m: number;
  /** Σ over tensors of the one-pass-per-op median. */
  us: number;
  /** Σ over tensors of the shared-pass time, where every shape has one. */
  sharedPassUs?: number;
  /** Tensors summed. */
  tensors: number;
}

/** What to run. */
export interface BenchConfig {
  shapes: Shape[];
  ms: number[];
  ops: ("linear" | "embedding")[];
  /**
   * `"int8"`, `"rowlane-int8"`, `"tiled-int8"`: the mat-vec, lane-per-row or
   * tiled kernel with the opt-in 8-bit activations, at every M;
   * `"matvec-int24"`: the mat-vec on the default path's 24-bit activations,
   * at every M.
   */
  variants: BenchVariant[];
  embedding: EmbeddingConfig;
  measure: MeasureOptions;
  dense: boolean;
  vsLlamaCpp: boolean;
  ggmlLib?: string;
  forceWallClock?: boolean;
  /** Other implementations to time beside ours (`bench --impl`), each its own rows. */
  impls?: Implementation[];
}

/** One implementation the linear sweep times: one of ours (`key` a variant) or a user's. */
interface LinearEntry {
  key: string;
  label: string;
  ours: boolean;
  impl: Implementation;
}

/** The options of ours that a bench variant times. */
export function ourOptions(variant: BenchVariant): Q5KImplementationOptions {
  switch (variant) {
    case "auto":
      return {};
    case "matvec-int24":
      return { variant: "matvec", activations: "int24" };
    case "int8":
      return { variant: "matvec", activations: "int8" };
    case "rowlane-int8":
    case "tiled-int8":
      return {
        variant: variant.slice(0, -"-int8".length) as "rowlane" | "tiled",
        activations: "int8",
      };
    default:
      return { variant, activations: "f32" };
  }
}

/**
 * The family a layer runs at M (from its `describe`), e.g. `matvec-int24`:
 * ours without `auto→` and the reduction; another implementation's as it
 * describes it.
 */
function familyOf(layer: LinearImpl, m: number, shared: boolean): string {
  return (layer.describe?.(m, shared) ?? "").replace(/^auto→/, "").replace(
    /\/(subgroup|workgroup)$/,
    "",
  );
}

/** A row family the bench times (see {@linkcode BenchConfig.variants}). */
export type BenchVariant =
  | "auto"
  | "matvec"
  | "rowlane"
  | "tiled"
  | "matvec-int24"
  | "int8"
  | "rowlane-int8"
  | "tiled-int8";

/** One measured case. */
export interface BenchResult {
  op: "linear" | "embedding";
  /** Which implementation ran: `kquant` (this library) or a `--impl` module's name. */
  impl?: string;
  /** The GGUF tensors that have this shape (`bench --gguf`). */
  tensors?: string[];
  variant: string;
  m: number;
  n: number;
  k: number;
  medianUs: number;
  p10Us: number;
  p90Us: number;
  gbps: number;
  gflops: number;
  pctOfCeiling: number;
  denseUs?: number;
  llamaCppUs?: number;
  /**
   * One grid-stride streaming read of the same weight bytes in one pass (µs),
   * over the same rotation of copies: the most a single dispatch of this size
   * can do, fixed per-pass cost included.
   */
  readUs?: number;
  /**
   * µs per op with {@linkcode SHARED_PASS_OPS} ops recorded into one compute
   * pass by `record()` (next weight copy each), as a model step would run
   * them: the pass's fixed cost is paid once. Every op writes the same y, so
   * WebGPU orders them (no two overlap), as a chain of layers. Up to M = {@linkcode SHARED_PASS_MAX_M}.
   */
  sharedPassUs?: number;
  /**
   * The kernel family `"auto"` ran in the shared pass where it differs from
   * the one-pass family in `variant` (`record()` chooses for a shared pass).
   */
  sharedPassKernel?: string;
  /**
   * CPU µs to encode, finish and submit one op's pass: the library's
   * encode() plus the runtime's. Above medianUs, the GPU waited for the CPU.
   * (Absent from results recorded before it was measured.)
   */
  cpuUs?: number;
}

/** The whole run, as `--json` prints it. */
export interface BenchReport {
  adapter: { vendor: string; architecture: string; device: string; description: string };
  backend: string;
  features: string[];
  clock: Clock;
  tick: string;
  ceilingGBs: number;
  ceilingBytes: number;
  software: boolean;
  scaledDown: boolean;
  /** `"auto"` runs mat-vec up to this M (f32). */
  crossoverM: number;
  /** Every switch point `"auto"` uses on this device, and where they came from. */
  crossover: Crossover;
  /**
   * Per shape, from which M tiled beats mat-vec (f32; and with int8
   * activations where both ran), the lane-per-row kernel beats mat-vec, and
   * tiled beats the lane-per-row kernel (where those ran).
   */
  measuredCrossover: {
    n: number;
    k: number;
    tiledFromM: number | null;
    int8TiledFromM?: number | null;
    rowLaneFromM?: number | null;
    tiledOverRowLaneFromM?: number | null;
    int8RowLaneFromM?: number | null;
    int8TiledOverRowLaneFromM?: number | null;
    /**
     * Up to which M the mat-vec on 24-bit activations beats every f32
     * family that ran, at each M up to it, one pass per op (where neither
     * row is CPU-bound) and in a shared pass (null: not at the smallest M;
     * see {@linkcode wideUpTo}); where `matvec-int24` ran.
     */
    wideUpToM?: number | null;
  }[];
  llamaCpp?: { backend: string; libDir: string };
  date: string;
  results: BenchResult[];
  /** Where the shapes have tensor names (`bench --gguf`): per implementation row and M, the whole model's Q5_K time. */
  model?: ModelSum[];
  /** What `bench --gguf` read: the file, the tensors behind each shape, what it skipped, the upload. */
  gguf?: GGUFBenchInfo;
}

/** The file side of a `bench --gguf` report. */
export interface GGUFBenchInfo {
  file: string;
  architecture: string;
  /** Each distinct Q5_K shape timed and its tensors. */
  shapes: { n: number; k: number; names: string[] }[];
  /** The Q5_K table timed as the embedding, if any. */
  embedding?: string;
  /** Every tensor not timed, with its type and why. */
  skipped: { name: string; type: string; reason: string }[];
  /** Host → GPU upload of every Q5_K tensor, one at a time (file reads timed apart). */
  upload: { tensors: number; bytes: number; readMs: number; uploadMs: number; gbps: number };
  /** Milliseconds to parse the header and tensor table. */
  headerMs: number;
}

/** Llama-3-8B-like shapes and the batch sizes a user cares about. */
export const DEFAULT_SHAPES: Shape[] = [{ n: 4096, k: 4096 }, { n: 14336, k: 4096 }, {
  n: 4096,
  k: 14336,
}];
export const DEFAULT_MS = [1, 2, 3, 4, 5, 8, 16, 32, 64, 128, 256, 512];
export const DEFAULT_EMBEDDING = { rows: 128256, k: 4096, counts: [1, 16, 128, 512, 4096] };
/** What a software adapter runs instead, to finish in about a minute. */
export const SOFTWARE_SHAPES: Shape[] = [{ n: 1024, k: 1024 }, { n: 2048, k: 1024 }];
export const SOFTWARE_MS = [1, 2, 4, 8, 16, 64];
export const SOFTWARE_EMBEDDING = { rows: 8192, k: 1024, counts: [1, 16, 128, 512] };

/** Whether the adapter is a CPU implementation (lavapipe, SwiftShader, WARP). */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const text =
    `${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.device} ${adapter.info.description}`;
  return (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render/i.test(text);
}

/**
 * Whether `adapter` comes from wgpu's GL backend: it alone reports
 * `maxBindingsPerBindGroup` as u32::MAX (4294967295; Vulkan, Metal and D3D12
 * report 1000 or 1024), seen on lavapipe against llvmpipe's GL with
 * `deno run -A cli/main.ts info --json` and DENO_WEBGPU_BACKEND unset / gl.
 */
export function isGlAdapter(adapter: GPUAdapter): boolean {
  return adapter.limits.maxBindingsPerBindGroup === 4294967295;
}

/**
 * The backend Deno uses: DENO_WEBGPU_BACKEND, else the platform's default —
 * unless the adapter came from the GL backend, which Deno falls back to
 * without a word when no Vulkan driver is visible.
 */
export function backendName(adapter: GPUAdapter): string {
  const chosen = Deno.env.get("DENO_WEBGPU_BACKEND");
  if (chosen) return chosen;
  if (isGlAdapter(adapter)) return "gl (fallback: no Vulkan driver found)";
  const byOs: Record<string, string> = { darwin: "metal", windows: "dx12" };
  return `${byOs[Deno.build.os] ?? "vulkan"} (platform default)`;
}

/**
 * Fills a GPU buffer with seeded random words (never zeros, which some GPUs
 * compress); one 16 MiB pattern is generated and repeated.
 */
function fillRandom(device: GPUDevice, buffer: GPUBuffer, bytes: number, mask = 0xffffffff): void {
  const rand = mulberry32(12345);
  const chunk = new Uint32Array(Math.min(bytes, 16 << 20) / 4);
  for (let i = 0; i < chunk.length; i++) chunk[i] = ((rand() * 4294967296) >>> 0) & mask;
  for (let at = 0; at < bytes; at += chunk.byteLength) {
    device.queue.writeBuffer(buffer, at, chunk, 0, Math.min(chunk.length, (bytes - at) / 4));
  }
}

function storage(device: GPUDevice, label: string, bytes: number): GPUBuffer {
  return device.createBuffer({
    label,
    size: Math.max(16, Math.ceil(bytes / 16) * 16),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
}

const q5kBytes = (rows: number, k: number) => rows * (k / 256) * 176;

/** Bytes of weights the bench cycles through, so they come from memory and not from L2 (50 MB on an H200). */
export const ROTATION_BYTES = 256 * 2 ** 20;

/** Ops recorded into one compute pass for the shared-pass timing. */
export const SHARED_PASS_OPS = 8;
/** The largest M timed in a shared pass too (above it the per-pass cost is small next to the op's). */
export const SHARED_PASS_MAX_M = 64;

/**
 * Times `record` (one op into an open pass) with {@linkcode SHARED_PASS_OPS}
 * ops per pass; µs per op.
 */
async function measureShared(
  timer: GpuTimer,
  record: (pass: GPUComputePassEncoder) => void,
  measure: MeasureOptions,
): Promise<number> {
  const t = await timer.measure((encoder, timestampWrites) => {
    const pass = encoder.beginComputePass({ label: "bench shared pass", timestampWrites });
    for (let i = 0; i < SHARED_PASS_OPS; i++) record(pass);
    pass.end();
  }, measure);
  return t.medianUs / SHARED_PASS_OPS;
}

/**
 * The measuring options for a case: the long warm-up (`afterIdle`) for the
 * first case after uploads and after a CPU-bound case, else `normal`. A
 * CPU-bound case leaves the GPU idle between passes and its clocks low
 * (nvidia-smi: H200 SM clock 1000–1400 MHz through the small embedding
 * cases, ramping back over about a second), which the next case would
 * otherwise partly measure.
 */
export function warmupFor(
  first: boolean,
  previous: Timing | undefined,
  normal: MeasureOptions,
  afterIdle: MeasureOptions,
): MeasureOptions {
  return first || (previous !== undefined && previous.cpuUs > previous.medianUs)
    ? afterIdle
    : normal;
}

/** Copies of a weight to rotate over per pass (one on software adapters). */
export function weightCopies(bytes: number, software: boolean): number {
  return software ? 1 : Math.max(1, Math.min(16, Math.ceil(ROTATION_BYTES / bytes)));
}

/** Measures the streaming-read ceiling; returns GB/s and the buffer size used. */
async function measureCeiling(
  device: GPUDevice,
  timer: GpuTimer,
  software: boolean,
  measure: MeasureOptions,
): Promise<{ gbps: number; bytes: number }> {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const bytes = Math.floor(Math.min(software ? 64 << 20 : 1 << 30, limit) / 256) * 256;
  const us = await measureRead(device, timer, bytes, 1, measure, true);
  return { gbps: bytes / (us * 1e3), bytes };
}

/**
 * Times one streaming read of `bytes` per pass, rotating over `copies`
 * buffers; with `calibrate`, first establishes the timestamp tick with it.
 */
async function measureRead(
  device: GPUDevice,
  timer: GpuTimer,
  bytes: number,
  copies: number,
  measure: MeasureOptions,
  calibrate = false,
): Promise<number> {
  const padded = Math.ceil(bytes / 16) * 16;
  const srcs = Array.from({ length: copies }, () => {
    const b = storage(device, "bench streaming-read source", padded);
    fillRandom(device, b, padded);
    return b;
  });
  const sink = storage(device, "bench read sink", 16);
  const uniforms = new DispatchCache(device, "bench read");
  const vec4s = padded / 16;
  const spec = ceilingKernel(vec4s, Math.min(ceilDiv(vec4s, 256), 16384));
  let turn = 0;
  const encode: EncodeFn = (encoder, timestampWrites) => {
    const pass = encoder.beginComputePass({ label: "streaming read", timestampWrites });
    dispatch(device, pass, spec, uniforms, [srcs[turn++ % copies], sink]);
    pass.end();
  };
  if (calibrate) await timer.calibrate(encode);
  const t = await timer.measure(encode, measure);
  for (const b of srcs) b.destroy();
  sink.destroy();
  uniforms.destroy();
  return t.medianUs;
}

/** A warning for a progress line where the CPU, not the GPU, set the pace. */
function cpuBound(t: Timing): string {
  return t.cpuUs > t.medianUs
    ? ` (CPU-bound: ${t.cpuUs.toFixed(1)} µs to encode and submit each pass, the GPU idled)`
    : "";
}

/** Runs the sweep; progress lines go to `progress`. */
export async function runBench(
  device: GPUDevice,
  adapter: GPUAdapter,
  config: BenchConfig,
  progress: (line: string) => void,
): Promise<BenchReport> {
  const software = isSoftwareAdapter(adapter);
  const timer = new GpuTimer(device, config.forceWallClock);
  const uniforms = new DispatchCache(device, "bench dense");
  let ggml: GgmlBench | null = null;
  if (config.vsLlamaCpp) {
    ggml = await openGgmlBench(config.ggmlLib);
    progress(`llama.cpp: ggml ${ggml.backendName} backend from ${ggml.libDir}`);
  }
  // The GPU idles while weights are generated and uploaded; the first case
  // after that gets a longer warm-up so it runs at the same clocks as the rest.
  const afterIdle: MeasureOptions = {
    ...config.measure,
    warmupMs: software ? config.measure.warmupMs : Math.max(config.measure.warmupMs ?? 0, 1000),
  };
  let previous: Timing | undefined;
  const warmup = (first: boolean) => warmupFor(first, previous, config.measure, afterIdle);
  const note = (t: Timing) => {
    previous = t;
  };
  progress("measuring the read ceiling…");
  const ceiling = await measureCeiling(device, timer, software, afterIdle);
  progress(
    `read ceiling: ${ceiling.gbps.toFixed(0)} GB/s over ${
      (ceiling.bytes / 2 ** 20).toFixed(0)
    } MiB (${timer.tickSource})`,
  );
  const results: BenchResult[] = [];
  const model = new Map<string, ModelSum>();
  const isInt8 = (v: string) => v === "int8" || v.endsWith("-int8");
  const packed = (v: string) => isInt8(v) || v === "matvec-int24";
  if (config.variants.some(packed) && !hasPackedDot()) {
    progress("int8, int24: skipped, this runtime's WGSL lacks packed_4x8_integer_dot_product");
    config = { ...config, variants: config.variants.filter((v) => !packed(v)) };
  }
  const linearEntries: LinearEntry[] = [
    ...config.variants.map((v) => ({
      key: v,
      label: v,
      ours: true,
      impl: q5kImplementation(ourOptions(v)),
    })),
    ...(config.impls ?? []).filter((i) => i.linear).map((impl) => ({
      key: `impl:${impl.name}`,
      label: impl.name,
      ours: false,
      impl,
    })),
  ];
  const linearCases = config.ops.includes("linear")
    ? config.shapes.length * config.ms.length * linearEntries.length
    : 0;
  const embCases = config.ops.includes("embedding")
    ? config.embedding.counts.length *
      (1 + (config.impls ?? []).filter((i) => i.embedding).length)
    : 0;
  const total = linearCases + embCases;
  let done = 0;
  const subgroups = device.features.has("subgroups" as GPUFeatureName);

  if (config.ops.includes("linear")) {
    const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
    for (const { n, k, weights, names } of config.shapes) {
      const weightsOf = weights ?? (() => Promise.resolve(makeQ5KBlob(n, k, { seed: 1 })));
      const copies = weightCopies(q5kBytes(n, k), software);
      if (names) {
        progress(
          `${n}x${k}: ${names.length} tensor${names.length > 1 ? "s" : ""} (${
            listNames(names)
          }), timing ${Math.min(copies, names.length)} of them in turn`,
        );
      }
      const maxM = Math.max(...config.ms);
      const x = storage(device, "bench x", maxM * k * 4);
      fillRandom(device, x, maxM * k * 4, 0x3f7fffff); // floats in [0, 1)
      const y = storage(device, "bench y", maxM * n * 4);
      // Each kernel family gets freshly allocated weights, is measured across
      // all M, and frees them: on an H200 the same kernel ran up to 2× faster
      // when measured first among variants (GPU clock state or allocation
      // order, not the kernel), so variants no longer take turns per M.
      const readUs = await measureRead(device, timer, q5kBytes(n, k), copies, afterIdle);
      const timings = new Map<
        string,
        { t: Timing; label: string; sharedUs?: number; sharedKernel?: string }
      >();
      for (const entry of linearEntries) {
        const layers: LinearImpl[] = [];
        for (let c = 0; c < copies; c++) {
          layers.push(await entry.impl.linear!(device, await weightsOf(c), { n, k }));
        }
        const first = layers[0];
        const encode = first.encode?.bind(first);
        if (!encode) {
          progress(`${entry.label}: skipped, it has no encode() (the bench times GPU passes)`);
          for (const layer of layers) layer.destroy();
          done += config.ms.length;
          continue;
        }
        for (const [i, m] of config.ms.entries()) {
          let turn = 0;
          // Uploading the layers' copies idled the GPU: warm up long first.
          const t = await timer.measure(
            (encoder, tw) => layers[turn++ % copies].encode!(encoder, x, y, m, tw),
            warmup(i === 0),
          );
          note(t);
          const onePass = familyOf(first, m, false);
          const label = entry.ours
            ? entry.key === "int8"
              ? "matvec-int8"
              : entry.key === "auto"
              ? `auto(${onePass})`
              : entry.key
            : `${entry.label}${onePass ? ` (${onePass})` : ""}`;
          const sharedUs = m <= SHARED_PASS_MAX_M && first.record
            ? await measureShared(
              timer,
              (pass) => layers[turn++ % copies].record!(pass, x, y, m),
              warmup(false),
            )
            : undefined;
          // Where auto's shared-pass family (record()) is not its one-pass one.
          const shared = entry.key === "auto" && sharedUs !== undefined
            ? familyOf(first, m, true)
            : undefined;
          const sharedKernel = shared !== onePass ? shared : undefined;
          timings.set(`${m}/${entry.key}`, { t, label, sharedUs, sharedKernel });
          done++;
          progress(
            `[${done}/${total}] linear ${n}x${k} m=${m} ${label}: ${t.medianUs.toFixed(1)} µs${
              sharedUs === undefined ? "" : `, ${sharedUs.toFixed(1)} µs in a shared pass`
            }${sharedKernel ? ` (${sharedKernel})` : ""}${cpuBound(t)}`,
          );
        }
        for (const layer of layers) layer.destroy();
      }
      const denseUs = new Map<number, number>();
      if (config.dense) {
        const denseW = Array.from({ length: weightCopies(n * k * 2, software) }, () => {
          const b = storage(device, "bench dense f16 weights", n * k * 2);
          fillRandom(device, b, n * k * 2, 0x3bff3bff); // halves in [0, 1)
          return b;
        });
        for (const [i, m] of config.ms.entries()) {
          const shape = { m, n, k, maxWorkgroupsPerDimension: maxDim };
          // The dense baseline's own crossover: mat-vec up to 16 where the Q5_K
          // int8 path has a measured lane-per-row range (NVIDIA), else to 8.
          const spec = m <= Math.min(16, crossoverFor(adapter.info).maxInt8RowLaneM)
            ? denseMatvecKernel(shape, subgroups)
            : denseTiledKernel(shape);
          let turn = 0;
          denseUs.set(
            m,
            (await timer.measure((encoder, timestampWrites) => {
              const pass = encoder.beginComputePass({ label: "dense baseline", timestampWrites });
              dispatch(device, pass, spec, uniforms, [denseW[turn++ % denseW.length], x, y]);
              pass.end();
            }, i === 0 ? afterIdle : config.measure)).medianUs,
          );
        }
        for (const b of denseW) b.destroy();
      }
      const blob = ggml ? await weightsOf(0) : null;
      for (const m of config.ms) {
        const llamaCppUs = blob
          ? ggml?.mulMat(blob, n, k, m, config.measure.minTimeMs, copies)
          : undefined;
        for (const entry of linearEntries) {
          const timing = timings.get(`${m}/${entry.key}`);
          if (!timing) continue;
          const { t, label, sharedUs, sharedKernel } = timing;
          const bytes = q5kBytes(n, k) + m * k * 4 + m * n * 4;
          const gbps = bytes / (t.medianUs * 1e3);
          results.push({
            op: "linear",
            impl: entry.impl.name === "kquant" || entry.ours ? "kquant" : entry.impl.name,
            variant: label,
            m,
            n,
            k,
            medianUs: t.medianUs,
            p10Us: t.p10Us,
            p90Us: t.p90Us,
            gbps,
            gflops: (2 * m * n * k) / (t.medianUs * 1e3),
            pctOfCeiling: (100 * gbps) / ceiling.gbps,
            denseUs: denseUs.get(m),
            llamaCppUs,
            readUs,
            sharedPassUs: sharedUs,
            ...(sharedKernel ? { sharedPassKernel: sharedKernel } : {}),
            cpuUs: t.cpuUs,
            ...(names ? { tensors: names } : {}),
          });
          if (names) addToModel(model, entry, m, names.length, t.medianUs, sharedUs);
        }
      }
      x.destroy();
      y.destroy();
    }
  }

  if (config.ops.includes("embedding")) {
    const { rows, k, counts, table: tableBytes, name } = config.embedding;
    progress(
      `${name ? `reading ${name}, ` : "making "}a ${rows}x${k} Q5_K table (${
        (q5kBytes(rows, k) / 1e6).toFixed(0)
      } MB)…`,
    );
    const blob = tableBytes ? await tableBytes() : makeQ5KBlob(rows, k, { seed: 2 });
    const maxCount = Math.max(...counts);
    const rand = mulberry32(7);
    const allIds = Int32Array.from({ length: maxCount }, () => Math.floor(rand() * rows));
    const ids = storage(device, "bench ids", maxCount * 4);
    device.queue.writeBuffer(ids, 0, allIds);
    const y = storage(device, "bench embedding y", maxCount * k * 4);
    const tables = [
      { name: "kquant", label: "gather", impl: q5kImplementation() },
      ...(config.impls ?? []).filter((i) => i.embedding).map((impl) => ({
        name: impl.name,
        label: impl.name,
        impl,
      })),
    ];
    for (const entry of tables) {
      const table = await entry.impl.embedding!(device, blob, { rows, k });
      if (!table.encode) {
        progress(`${entry.label}: skipped, it has no encode() (the bench times GPU passes)`);
        table.destroy();
        done += counts.length;
        continue;
      }
      for (const [i, count] of counts.entries()) {
        const t = await timer.measure(
          (encoder, tw) => table.encode!(encoder, ids, y, count, tw),
          warmup(i === 0),
        );
        note(t);
        const sharedUs = table.record
          ? await measureShared(timer, (pass) => table.record!(pass, ids, y, count), warmup(false))
          : undefined;
        const llamaCppUs = ggml?.getRows(
          blob,
          rows,
          k,
          allIds.subarray(0, count),
          config.measure.minTimeMs,
        );
        const bytes = count * (q5kBytes(1, k) + 4 + k * 4);
        const gbps = bytes / (t.medianUs * 1e3);
        results.push({
          op: "embedding",
          impl: entry.name,
          variant: entry.label,
          m: count,
          n: rows,
          k,
          medianUs: t.medianUs,
          p10Us: t.p10Us,
          p90Us: t.p90Us,
          gbps,
          gflops: 0,
          pctOfCeiling: (100 * gbps) / ceiling.gbps,
          llamaCppUs,
          sharedPassUs: sharedUs,
          cpuUs: t.cpuUs,
          ...(name ? { tensors: [name] } : {}),
        });
        done++;
        progress(
          `[${done}/${total}] embedding ${rows}x${k} ids=${count}: ${t.medianUs.toFixed(1)} µs, ${
            gbps.toFixed(0)
          } GB/s${sharedUs === undefined ? "" : `, ${sharedUs.toFixed(1)} µs in a shared pass`}${
            cpuBound(t)
          }`,
        );
      }
      table.destroy();
    }
    ids.destroy();
    y.destroy();
  }

  const both = (a: string, b: string) =>
    config.variants.includes(a as "auto") && config.variants.includes(b as "auto");
  const measuredCrossover = both("matvec", "tiled")
    ? config.shapes.map(({ n, k }) => ({
      n,
      k,
      tiledFromM: tiledFrom(results, n, k),
      ...(both("int8", "tiled-int8")
        ? { int8TiledFromM: tiledFrom(results, n, k, "matvec-int8", "tiled-int8") }
        : {}),
      ...(both("int8", "rowlane-int8") && both("rowlane-int8", "tiled-int8")
        ? {
          int8RowLaneFromM: tiledFrom(results, n, k, "matvec-int8", "rowlane-int8"),
          int8TiledOverRowLaneFromM: tiledFrom(results, n, k, "rowlane-int8", "tiled-int8"),
        }
        : {}),
      ...(config.variants.includes("rowlane")
        ? {
          rowLaneFromM: tiledFrom(results, n, k, "matvec", "rowlane"),
          tiledOverRowLaneFromM: tiledFrom(results, n, k, "rowlane", "tiled"),
        }
        : {}),
      ...(config.variants.includes("matvec-int24")
        ? { wideUpToM: wideUpTo(results, n, k, ["matvec", "rowlane", "tiled"]) }
        : {}),
    }))
    : [];
  const report: BenchReport = {
    adapter: {
      vendor: adapter.info.vendor,
      architecture: adapter.info.architecture,
      device: adapter.info.device,
      description: adapter.info.description,
    },
    backend: backendName(adapter),
    features: [...device.features].sort(),
    clock: timer.clock,
    tick: timer.clock === "gpu-timestamp" ? timer.tickSource : "wall clock over batches of passes",
    ceilingGBs: ceiling.gbps,
    ceilingBytes: ceiling.bytes,
    software,
    scaledDown: false,
    crossoverM: crossoverFor(adapter.info).maxMatvecM,
    crossover: crossoverFor(adapter.info),
    measuredCrossover,
    llamaCpp: ggml ? { backend: ggml.backendName, libDir: ggml.libDir } : undefined,
    date: new Date().toISOString(),
    results,
    ...(config.shapes.some((s) => s.names) && config.ops.includes("linear")
      ? { model: [...model.values()] }
      : {}),
  };
  ggml?.close();
  timer.destroy();
  uniforms.destroy();
  return report;
}

/**
 * Tensor names in short: every block's copy once (`blk.0.attn_q.weight`,
 * `blk.1.attn_q.weight` → `blk.*.attn_q.weight`), in file order.
 */
export function compactNames(names: string[]): string {
  return [...new Set(names.map((n) => n.replace(/^blk\.\d+\./, "blk.*.")))].join(", ");
}

/** Up to four names, then how many more. */
export function listNames(names: string[], most = 4): string {
  return names.length > most
    ? `${names.slice(0, most).join(", ")}, … (${names.length - most} more)`
    : names.join(", ");
}

/**
 * Adds `tensors` × one shape's times to the whole-model sum of an
 * implementation row at M; the shared-pass sum is kept only while every
 * shape so far has one.
 */
export function addToModel(
  model: Map<string, ModelSum>,
  entry: { key: string; label: string; ours: boolean },
  m: number,
  tensors: number,
  us: number,
  sharedUs: number | undefined,
): void {
  const key = `${entry.key}/${m}`;
  const first = !model.has(key);
  const sum = model.get(key) ?? {
    impl: entry.ours ? "kquant" : entry.label,
    variant: entry.ours ? entry.key : entry.label,
    m,
    us: 0,
    sharedPassUs: 0,
    tensors: 0,
  };
  sum.us += tensors * us;
  sum.tensors += tensors;
  if (sharedUs === undefined || (!first && sum.sharedPassUs === undefined)) {
    delete sum.sharedPassUs;
  } else sum.sharedPassUs! += tensors * sharedUs;
  model.set(key, sum);
}

/**
 * The largest M up to which the mat-vec on 24-bit activations (results
 * labelled `matvec-int24`) is faster than every one of the `f32` labels
 * measured at each M up to it, one pass per op and in a shared pass: a
 * measure counts where both rows have it and, one pass per op, where neither
 * was CPU-bound (its encoding outlasting the GPU time, so the time is the
 * CPU's); an M with no measure that counts is no win. Null where it is not
 * at the smallest M.
 */
export function wideUpTo(
  results: BenchResult[],
  n: number,
  k: number,
  f32: string[],
  wide = "matvec-int24",
): number | null {
  const rows = results.filter((r) => r.op === "linear" && r.n === n && r.k === k);
  const ms = [...new Set(rows.filter((r) => r.variant === wide).map((r) => r.m))].sort((a, b) =>
    a - b
  );
  const gpuBound = (r: BenchResult) => !(r.cpuUs !== undefined && r.cpuUs > r.medianUs);
  let upTo: number | null = null;
  for (const m of ms) {
    const at = rows.filter((r) => r.m === m);
    const mine = at.find((r) => r.variant === wide)!;
    let compared = 0;
    let ahead = true;
    for (const other of at.filter((r) => f32.includes(r.variant))) {
      if (gpuBound(mine) && gpuBound(other)) {
        compared++;
        ahead &&= mine.medianUs < other.medianUs;
      }
      if (mine.sharedPassUs !== undefined && other.sharedPassUs !== undefined) {
        compared++;
        ahead &&= mine.sharedPassUs < other.sharedPassUs;
      }
    }
    if (!(compared > 0 && ahead)) break;
    upTo = m;
  }
  return upTo;
}

/**
 * The smallest M from which the tiled kernel (results labelled `tiled`) is
 * faster than mat-vec (`matvec`) at every larger M measured.
 */
export function tiledFrom(
  results: BenchResult[],
  n: number,
  k: number,
  matvec = "matvec",
  tiled = "tiled",
): number | null {
  const of = (v: string) =>
    new Map(
      results.filter((r) => r.op === "linear" && r.n === n && r.k === k && r.variant === v).map((
        r,
      ) => [r.m, r.medianUs]),
    );
  const mv = of(matvec);
  const tl = of(tiled);
  const ms = [...mv.keys()].filter((m) => tl.has(m)).sort((a, b) => a - b);
  let from: number | null = null;
  for (let i = ms.length - 1; i >= 0; i--) {
    if (tl.get(ms[i])! < mv.get(ms[i])!) from = ms[i];
    else break;
  }
  return from;
}
