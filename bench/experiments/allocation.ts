/**
 * Does the time of one kernel follow how its weight copies were allocated?
 * Times the default M = 1 mat-vec and a one-pass streaming read over the
 * bench's rotation of weight copies, allocated (a) as separate buffers, fresh
 * each round, and (b) as ranges of one large buffer, fresh each round; each
 * allocation is timed twice, so allocation-to-allocation spread can be told
 * from run-to-run spread. A measuring aid for the bench, not a benchmark of
 * the library.
 *
 * ```sh
 * deno run -A bench/experiments/allocation.ts [NxK] [rounds]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import {
  type BufferRange,
  dispatch,
  DispatchCache,
  type KernelSpec,
  uploadStorage,
} from "../../kernels/_gpu.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import { matvecConfigFor } from "../../kernels/matvec_config.ts";
import { makeQ5KBlob } from "../../kernels/make_blob.ts";
import { ceilDiv } from "../../kernels/dispatch.ts";
import { GpuTimer } from "../timing.ts";
import { ceilingKernel } from "../ceiling_kernel.ts";
import { weightCopies } from "../sweep.ts";

/** Byte offsets of `copies` ranges of `bytes` each in one buffer, each aligned to `alignment`. */
export function packedOffsets(bytes: number, copies: number, alignment: number): number[] {
  const stride = Math.ceil(bytes / alignment) * alignment;
  return Array.from({ length: copies }, (_, i) => i * stride);
}

if (import.meta.main) {
  const [n, k] = (Deno.args[0] ?? "14336x4096").split("x").map(Number);
  const rounds = Number(Deno.args[1] ?? 3);
  const device = await requestDevice();
  const timer = new GpuTimer(device);
  const uniforms = new DispatchCache(device, "experiment");
  const measure = { minTimeMs: 200, maxIters: 100000, warmup: 4, warmupMs: 300 };
  const blob = makeQ5KBlob(n, k, { seed: 1 });
  const copies = weightCopies(blob.byteLength, false);
  const x = uploadStorage(device, "x", new Float32Array(k).map((_, i) => (i % 1000) / 1000));
  const y = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE });
  const subgroups = device.features.has("subgroups" as GPUFeatureName) ? 32 : 0;
  const matvec = matvecKernel(matvecConfigFor(1, k, subgroups, false, false), {
    m: 1,
    n,
    k,
    row0: 0,
    rows: n,
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
  });
  const vec4s = Math.floor(blob.byteLength / 16);
  const read = ceilingKernel(vec4s, Math.min(ceilDiv(vec4s, 256), 16384));
  const time = async (spec: KernelSpec, ws: BufferRange[], extra: GPUBuffer[]) => {
    let turn = 0;
    const t = await timer.measure((encoder, timestampWrites) => {
      const pass = encoder.beginComputePass({ timestampWrites });
      dispatch(device, pass, spec, uniforms, [ws[turn++ % ws.length], ...extra]);
      pass.end();
    }, measure);
    return t.medianUs.toFixed(1);
  };
  const report = async (label: string, ws: BufferRange[]) => {
    const cells = [
      await time(matvec, ws, [x, y]),
      await time(read, ws, [y]),
      await time(matvec, ws, [x, y]),
      await time(read, ws, [y]),
    ];
    // deno-lint-ignore no-console
    console.log(`${n}x${k}\t${label}\tmatvec M=1 / read µs, twice: ${cells.join(" / ")}`);
  };
  for (let round = 0; round < rounds; round++) {
    const separate = Array.from({ length: copies }, () => uploadStorage(device, "w", blob));
    await report(`separate ×${copies} round ${round}`, separate);
    for (const b of separate) b.destroy();
    const offsets = packedOffsets(blob.byteLength, copies, 256);
    const size = offsets[copies - 1] + Math.ceil(blob.byteLength / 16) * 16;
    const big = device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    for (const at of offsets) device.queue.writeBuffer(big, at, blob as Uint8Array<ArrayBuffer>);
    const ranges = offsets.map((offset) => ({
      buffer: big,
      offset,
      size: Math.ceil(blob.byteLength / 16) * 16,
    }));
    await report(`one buffer ×${copies} round ${round}`, ranges);
    big.destroy();
  }
  const single = [uploadStorage(device, "w", blob)];
  await report("one copy (L2 can hold part)", single);
  single[0].destroy();
  x.destroy();
  y.destroy();
  timer.destroy();
  uniforms.destroy();
}
