/**
 * Timing GPU work: GPU timestamps around each compute pass where the device has
 * `timestamp-query`, else wall clock over long batches. Deno's `mapAsync`
 * polls with a ~10 ms sleep, so a single dispatch is never timed by wall clock.
 *
 * @module
 */

/** Records one pass of the work to time; pass `timestampWrites` to its compute pass. */
export type EncodeFn = (
  encoder: GPUCommandEncoder,
  timestampWrites?: GPUComputePassTimestampWrites,
) => void;

/** Summary of the samples of one case. */
export interface Timing {
  medianUs: number;
  p10Us: number;
  p90Us: number;
  samples: number;
}

/** How long and how often to measure. */
export interface MeasureOptions {
  /** Keep sampling until this much GPU time was measured (ms). */
  minTimeMs: number;
  /** Stop after this many samples even if minTimeMs is not reached. */
  maxIters: number;
  /** Passes run first and discarded. */
  warmup: number;
}

/** Which clock timed the work. */
export type Clock = "gpu-timestamp" | "wall";

/** The p-th quantile (0..1) of sorted numbers, interpolated. */
export function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

function summarize(samplesUs: number[]): Timing {
  const s = [...samplesUs].sort((a, b) => a - b);
  return {
    medianUs: quantile(s, 0.5),
    p10Us: quantile(s, 0.1),
    p90Us: quantile(s, 0.9),
    samples: s.length,
  };
}

const MAX_BATCH = 256;

/** Times GPU work on one device. */
export class GpuTimer {
  readonly device: GPUDevice;
  readonly clock: Clock;
  /** Nanoseconds per timestamp tick (Deno returns raw ticks). */
  tickNs = 1;
  /** How tickNs was established. */
  tickSource = "assumed 1 ns";
  #querySet: GPUQuerySet | null = null;
  #resolve: GPUBuffer | null = null;

  constructor(device: GPUDevice, forceWall = false) {
    this.device = device;
    this.clock = !forceWall && device.features.has("timestamp-query") ? "gpu-timestamp" : "wall";
    if (this.clock === "gpu-timestamp") {
      this.#querySet = device.createQuerySet({
        label: "kquant bench timestamps",
        type: "timestamp",
        count: 2 * MAX_BATCH,
      });
      this.#resolve = device.createBuffer({
        label: "kquant bench timestamps resolve",
        size: 16 * MAX_BATCH,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
    }
  }

  /** Runs `passes` passes in one submit; returns per-pass ticks (timestamps) and the wall time (ms). */
  async #batch(
    encode: EncodeFn,
    passes: number,
  ): Promise<{ ticks: number[]; wallMs: number; spanTicks: number }> {
    const encoder = this.device.createCommandEncoder({ label: "kquant bench" });
    for (let i = 0; i < passes; i++) {
      encode(
        encoder,
        this.#querySet
          ? {
            querySet: this.#querySet,
            beginningOfPassWriteIndex: 2 * i,
            endOfPassWriteIndex: 2 * i + 1,
          }
          : undefined,
      );
    }
    let readback: GPUBuffer | null = null;
    if (this.#querySet) {
      encoder.resolveQuerySet(this.#querySet, 0, 2 * passes, this.#resolve!, 0);
      readback = this.device.createBuffer({
        label: "kquant bench timestamps readback",
        size: 16 * passes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      encoder.copyBufferToBuffer(this.#resolve!, 0, readback, 0, 16 * passes);
    }
    const t0 = performance.now();
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    const wallMs = performance.now() - t0;
    if (!readback) return { ticks: [], wallMs, spanTicks: 0 };
    await readback.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    readback.destroy();
    const ticks: number[] = [];
    for (let i = 0; i < passes; i++) ticks.push(Number(stamps[2 * i + 1] - stamps[2 * i]));
    return { ticks, wallMs, spanTicks: Number(stamps[2 * passes - 1] - stamps[0]) };
  }

  /** Runs `passes` passes in one submit with timestamps only around the first and last. */
  async #span(encode: EncodeFn, passes: number): Promise<{ wallMs: number; spanTicks: number }> {
    const encoder = this.device.createCommandEncoder({ label: "kquant bench calibration" });
    for (let i = 0; i < passes; i++) {
      const tw: GPUComputePassTimestampWrites = { querySet: this.#querySet! };
      if (i === 0) tw.beginningOfPassWriteIndex = 0;
      if (i === passes - 1) tw.endOfPassWriteIndex = 1;
      encode(encoder, i === 0 || i === passes - 1 ? tw : undefined);
    }
    encoder.resolveQuerySet(this.#querySet!, 0, 2, this.#resolve!, 0);
    const readback = this.device.createBuffer({
      label: "kquant bench calibration readback",
      size: 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.copyBufferToBuffer(this.#resolve!, 0, readback, 0, 16);
    const t0 = performance.now();
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    const wallMs = performance.now() - t0;
    await readback.mapAsync(GPUMapMode.READ);
    const [a, b] = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    readback.destroy();
    return { wallMs, spanTicks: Number(b - a) };
  }

  /**
   * Establishes the tick length (Deno returns raw ticks): times a short and a
   * long run of `encode` (≥ `targetMs`) by wall clock and by timestamps and
   * divides the differences, which cancels the fixed submit and ~10 ms polling
   * cost. Within 10% of 1 confirms 1 ns ticks (NVIDIA Vulkan, lavapipe); else
   * the measured length is used and reported.
   */
  async calibrate(encode: EncodeFn, targetMs = 400): Promise<void> {
    if (this.clock !== "gpu-timestamp") return;
    let passes = 8;
    let long = await this.#span(encode, passes);
    while (long.wallMs < targetMs && passes < 1 << 16) {
      passes *= 2;
      long = await this.#span(encode, passes);
    }
    const short = await this.#span(encode, Math.max(1, passes >> 2));
    long = await this.#span(encode, passes);
    const dTicks = long.spanTicks - short.spanTicks;
    if (dTicks <= 0) {
      this.tickSource = "assumed 1 ns (timestamps did not advance)";
      return;
    }
    const ratio = ((long.wallMs - short.wallMs) * 1e6) / dTicks;
    const over = `${(long.wallMs - short.wallMs).toFixed(0)} ms`;
    if (ratio > 0.9 && ratio < 1.1) {
      this.tickNs = 1;
      this.tickSource = `1 ns, confirmed against wall clock (ratio ${
        ratio.toFixed(3)
      } over ${over})`;
    } else {
      this.tickNs = ratio;
      this.tickSource = `${ratio.toFixed(3)} ns, calibrated against wall clock over ${over}`;
    }
  }

  /** Measures `encode`, one sample per pass (timestamps) or per long batch (wall). */
  async measure(encode: EncodeFn, options: MeasureOptions): Promise<Timing> {
    if (options.warmup > 0) await this.#batch(encode, Math.min(options.warmup, MAX_BATCH));
    const samples: number[] = [];
    let measuredMs = 0;
    let passes = 4;
    const started = performance.now();
    while (samples.length < options.maxIters && measuredMs < options.minTimeMs) {
      const run = await this.#batch(encode, passes);
      if (this.clock === "gpu-timestamp") {
        for (const t of run.ticks) samples.push((t * this.tickNs) / 1000);
        measuredMs += run.ticks.reduce((a, b) => a + b, 0) * this.tickNs / 1e6;
      } else {
        samples.push((run.wallMs * 1000) / passes);
        measuredMs += run.wallMs;
      }
      // Aim for ~25 ms of work per submit so polling overhead stays small.
      const perPassMs = this.clock === "gpu-timestamp"
        ? Math.max(1e-4, run.ticks.reduce((a, b) => a + b, 0) * this.tickNs / 1e6 / passes)
        : run.wallMs / passes;
      passes = Math.max(1, Math.min(MAX_BATCH, Math.round(25 / perPassMs)));
      if (performance.now() - started > 4 * options.minTimeMs + 2000) break;
    }
    return summarize(samples);
  }

  destroy(): void {
    this.#querySet?.destroy();
    this.#resolve?.destroy();
  }
}
