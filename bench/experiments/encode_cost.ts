/**
 * What recording a layer costs the CPU: µs per op to encode it as a pass of
 * its own, to record it into a shared pass, and an empty pass, each split
 * into recording, `finish()` and `submit()`, for the f32 and int8 mat-vec.
 * When these exceed the GPU time of the op, the GPU waits for the CPU. A
 * measuring aid, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/encode_cost.ts [NxK]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { Q5KLinear } from "../../kernels/linear.ts";
import { makeQ5KBlob } from "../../kernels/make_blob.ts";

/** CPU µs per op of recording `ops` ops with `record`, then finish and submit. */
export async function cpuCost(
  device: GPUDevice,
  ops: number,
  record: (encoder: GPUCommandEncoder, ops: number) => void,
): Promise<{ recordUs: number; finishUs: number; submitUs: number }> {
  const encoder = device.createCommandEncoder();
  const t0 = performance.now();
  record(encoder, ops);
  const t1 = performance.now();
  const commands = encoder.finish();
  const t2 = performance.now();
  device.queue.submit([commands]);
  const t3 = performance.now();
  await device.queue.onSubmittedWorkDone();
  const per = (ms: number) => (ms * 1000) / ops;
  return { recordUs: per(t1 - t0), finishUs: per(t2 - t1), submitUs: per(t3 - t2) };
}

if (import.meta.main) {
  const [n, k] = (Deno.args[0] ?? "14336x4096").split("x").map(Number);
  const device = await requestDevice();
  const blob = makeQ5KBlob(n, k, { seed: 1 });
  const x = device.createBuffer({ size: 8 * k * 4, usage: GPUBufferUsage.STORAGE });
  const y = device.createBuffer({ size: 8 * n * 4, usage: GPUBufferUsage.STORAGE });
  const ops = 512;
  const show = (label: string, c: { recordUs: number; finishUs: number; submitUs: number }) =>
    // deno-lint-ignore no-console
    console.log(
      `${label}: record ${c.recordUs.toFixed(2)} + finish ${c.finishUs.toFixed(2)} + submit ${
        c.submitUs.toFixed(2)
      } µs per op`,
    );
  for (let round = 0; round < 2; round++) {
    show(
      `round ${round} empty pass`,
      await cpuCost(device, ops, (e, count) => {
        for (let i = 0; i < count; i++) e.beginComputePass().end();
      }),
    );
    for (const activations of ["f32", "int8"] as const) {
      const layer = Q5KLinear.create(device, blob, { n, k, variant: "matvec", activations });
      for (const m of [1, 8]) {
        show(
          `round ${round} ${activations} m=${m} own pass`,
          await cpuCost(device, ops, (e, count) => {
            for (let i = 0; i < count; i++) layer.encode(e, x, y, m);
          }),
        );
        show(
          `round ${round} ${activations} m=${m} shared pass`,
          await cpuCost(device, ops, (e, count) => {
            const pass = e.beginComputePass();
            for (let i = 0; i < count; i++) layer.record(pass, x, y, m);
            pass.end();
          }),
        );
      }
      layer.destroy();
    }
  }
  x.destroy();
  y.destroy();
}
