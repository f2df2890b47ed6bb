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
  /**
   * CPU time to encode, finish and submit one pass (µs, median over
   * batches). Where it exceeds the GPU time the GPU idles between batches and
   * lowers its clocks, and the GPU time is no longer the kernel's alone.
   */
  cpuUs: number;
}

/** How long and how often to measure. */
export interface MeasureOptions {
  /** Keep sampling until this much GPU time was measured (ms). */
  minTimeMs: number;
  /** Stop after this many samples even if minTimeMs is not reached. */
  maxIters: number;
  /** Passes run first and discarded. */
  warmup: number;
  /**
   * Keep running the work, unmeasured, for this long first (ms), so every case
   * is timed with the GPU in the same clock state (a case measured right after
   * an idle moment otherwise runs at boost clocks and looks faster).
   */
  warmupMs?: number;
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

function summarize(samplesUs: number[], cpuUs: number[]): Timing {
  const s = [...samplesUs].sort((a, b) => a - b);
  return {
    medianUs: quantile(s, 0.5),
    p10Us: quantile(s, 0.1),
    p90Us: quantile(s, 0.9),
    samples: s.length,
    cpuUs: quantile([...cpuUs].sort((a, b) => a - b), 0.5),
  };
}

/** What one submitted batch gives back. */
interface BatchResult {
  perPassUs: number[];
  wallMs: number;
  /** CPU µs per pass spent encoding, finishing and submitting the batch. */
  cpuUs: number;
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

  /**
   * Runs `groups` runs of `perGroup` passes in one submit, with timestamps at
   * the start of each run's first pass and the end of its last: per-pass
   * timestamps are unreliable for back-to-back passes (a pass's start can be
   * stamped while the previous one still drains), so each sample is a run's
   * span divided by its passes, as llama.cpp's test-backend-ops divides a
   * graph's time by its ops. Submits at once; the promise gives µs per pass
   * for each run, and the wall time until the results were read.
   */
  #batch(
    encode: EncodeFn,
    groups: number,
    perGroup: number,
  ): Promise<BatchResult> {
    const cpu0 = performance.now();
    const encoder = this.device.createCommandEncoder({ label: "kquant bench" });
    for (let g = 0; g < groups; g++) {
      for (let i = 0; i < perGroup; i++) {
        let tw: GPUComputePassTimestampWrites | undefined;
        if (this.#querySet && (i === 0 || i === perGroup - 1)) {
          tw = { querySet: this.#querySet };
          if (i === 0) tw.beginningOfPassWriteIndex = 2 * g;
          if (i === perGroup - 1) tw.endOfPassWriteIndex = 2 * g + 1;
        }
        encode(encoder, tw);
      }
    }
    let readback: GPUBuffer | null = null;
    if (this.#querySet) {
      encoder.resolveQuerySet(this.#querySet, 0, 2 * groups, this.#resolve!, 0);
      readback = this.device.createBuffer({
        label: "kquant bench timestamps readback",
        size: 16 * groups,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      encoder.copyBufferToBuffer(this.#resolve!, 0, readback, 0, 16 * groups);
    }
    const t0 = performance.now();
    this.device.queue.submit([encoder.finish()]);
    const cpuUs = ((performance.now() - cpu0) * 1000) / (groups * perGroup);
    if (!readback) {
      return this.device.queue.onSubmittedWorkDone().then(() => {
        const wallMs = performance.now() - t0;
        return { perPassUs: [(wallMs * 1000) / (groups * perGroup)], wallMs, cpuUs };
      });
    }
    return readback.mapAsync(GPUMapMode.READ).then(() => {
      const wallMs = performance.now() - t0;
      const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
      readback.unmap();
      readback.destroy();
      const perPassUs: number[] = [];
      for (let g = 0; g < groups; g++) {
        perPassUs.push(
          (Number(stamps[2 * g + 1] - stamps[2 * g]) * this.tickNs) / 1000 / perGroup,
        );
      }
      return { perPassUs, wallMs, cpuUs };
    });
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

  /**
   * Measures `encode`: with timestamps, one sample per run of passes lasting
   * about a millisecond, many runs per submit, and the next submit queued
   * before the last one is read, so the GPU never idles between batches (an
   * idle GPU drops its clocks: on an H200 that had moved ALU-bound kernels by
   * up to 2×). By wall clock, one sample per submit of about 100 ms, one at a
   * time (Deno's ~10 ms completion polling then adds ≤ 10%).
   */
  async measure(encode: EncodeFn, options: MeasureOptions): Promise<Timing> {
    const stamped = this.clock === "gpu-timestamp";
    if (options.warmup > 0) await this.#batch(encode, 1, options.warmup);
    // The first, small batch only sizes the following ones. It runs inside
    // error scopes: work the device rejected runs in no time, and that must
    // be an error, never a timing.
    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    let sizingRun: Promise<BatchResult> | null = null;
    let thrown: unknown = null;
    try {
      sizingRun = this.#batch(encode, 2, 2);
    } catch (error) {
      thrown = error;
    }
    const scopes = [this.device.popErrorScope(), this.device.popErrorScope()];
    const gpuError = (await Promise.all(scopes)).find((e) => e !== null);
    if (thrown) throw thrown;
    if (gpuError) {
      await sizingRun!.catch(() => {});
      throw new Error(`the device rejected the work to time: ${gpuError.message}`);
    }
    const sizing = await sizingRun!;
    if (stamped && sizing.perPassUs.every((us) => us <= 0)) {
      throw new Error(
        "GPU timestamps did not advance over the work to time, so there is no timing; --wall-clock times by wall clock",
      );
    }
    const perPassMs = Math.max(
      1e-5,
      sizing.perPassUs.reduce((a, b) => a + b, 0) / sizing.perPassUs.length / 1000,
    );
    const perGroup = stamped
      ? Math.max(1, Math.min(1024, Math.round(1 / perPassMs)))
      : Math.max(1, Math.min(100000, Math.round(100 / perPassMs)));
    const groups = stamped
      ? Math.max(1, Math.min(MAX_BATCH, Math.round(25 / (perPassMs * perGroup))))
      : 1;
    const inFlight = stamped ? 2 : 1;
    const queue: Promise<BatchResult>[] = [];
    const warmUntil = performance.now() + (options.warmupMs ?? 0);
    while (performance.now() < warmUntil) {
      queue.push(this.#batch(encode, groups, perGroup));
      if (queue.length >= inFlight) await queue.shift();
    }
    const samples: number[] = [];
    const cpuUs: number[] = [];
    let measuredMs = 0;
    const started = performance.now();
    let pending = queue.length; // warm-up batches still in flight are not samples
    while (samples.length < options.maxIters && measuredMs < options.minTimeMs) {
      queue.push(this.#batch(encode, groups, perGroup));
      if (queue.length < inFlight) continue;
      const run = await queue.shift()!;
      if (pending > 0) {
        pending--;
        continue;
      }
      samples.push(...run.perPassUs);
      cpuUs.push(run.cpuUs);
      measuredMs += run.perPassUs.reduce((a, b) => a + b, 0) * perGroup / 1000;
      if (performance.now() - started > 4 * options.minTimeMs + 3000) break;
    }
    await Promise.all(queue);
    if (samples.length === 0) {
      samples.push(...sizing.perPassUs);
      cpuUs.push(sizing.cpuUs);
    }
    return summarize(samples, cpuUs);
  }

  destroy(): void {
    this.#querySet?.destroy();
    this.#resolve?.destroy();
  }
}
