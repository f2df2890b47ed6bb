/**
 * What activations quantized to 24 bits per 32 would cost the int8 mat-vec:
 * each value as three int8 digits (v = 65536·a + 256·b + c) in three planes,
 * each packed weight word meeting all three with `dot4I8Packed` and the three
 * sums joined in f32 — an accuracy close to f32 products at the int8 path's
 * instruction count per weight times three. Emulated: the library's int8
 * mat-vec WGSL rewritten to load the two further planes and do the further
 * products, on made-up activations (the output is not checked; only the time
 * counts), against the library's int8 mat-vec, 8 dispatches a pass (as
 * `record()` runs a model step) or one pass each (`--pass`). A measuring aid
 * for kernel work, not a benchmark of the library.
 *
 * ```sh
 * deno run -A bench/experiments/wide_int.ts [--pass] [M ...]
 * ```
 *
 * @module
 */

import { requestDevice } from "../../kernels/device.ts";
import { matvecKernel } from "../../kernels/matvec_kernel.ts";
import { matvecConfigFor } from "../../kernels/matvec_config.ts";
import { quantizedXBytes } from "../../kernels/quantize_x_kernel.ts";
import { uploadStorage } from "../../kernels/_gpu.ts";
import { intList } from "../../cli/args.ts";
import { type Candidate, timeCandidates } from "./tiled_layouts.ts";

/** Vec4s of one activation plane in the WGSL (m·k int8 values). */
const PLANE = "(p.m * p.k4 / 4u)";

/**
 * Rewrites the int8 mat-vec's WGSL for 2 or 3 activation planes: every load
 * of a quantized-activation vec4 gains the same vec4 of the further planes,
 * every sum of packed products a sum over each, joined as 256·Σa + Σb or
 * 65536·Σa + 256·Σb + Σc.
 */
export function morePlanes(wgsl: string, planes: 2 | 3): string {
  const more = planes === 3 ? [1, 2] : [1];
  const names = ["", "b", "c"];
  const join = (v: (n: number) => string) =>
    planes === 3
      ? `(${v(0)} * 65536.0 + (${v(1)} * 256.0 + ${v(2)}))`
      : `(${v(0)} * 256.0 + ${v(1)})`;
  return wgsl
    .replaceAll(
      /let (x[lu]) = x\[([^\]]+)\];/g,
      (_, v: string, at: string) =>
        [`let ${v} = x[${at}];`, ...more.map((n) => `let ${v}${n} = x[${at} + ${n}u * ${PLANE}];`)]
          .join("\n      "),
    )
    .replaceAll(
      /let (i[lu]\d+) = ([^;]*dot4I8Packed[^;]*);/g,
      (_, s: string, dots: string) => {
        const side = s[1];
        const plane = (n: number) => dots.replaceAll(`x${side}.`, `x${side}${n}.`);
        return [`let ${s} = ${dots};`, ...more.map((n) => `let ${s}${names[n]} = ${plane(n)};`)]
          .join("\n      ");
      },
    )
    .replaceAll(/f32\((i[lu]\d+)\)/g, (_, s: string) => join((n) => `f32(${s}${names[n]})`))
    .replaceAll(
      /\(bitcast<f32>\((i[lu]\d+)\) - 12582912\.0\)/g,
      (_, s: string) => join((n) => `(bitcast<f32>(${s}${names[n]}) - 12582912.0)`),
    );
}

/** The library's int8 mat-vec for M and its three-plane rewrite. */
export function wideIntCandidates(
  m: number,
  n: number,
  k: number,
  maxWorkgroupsPerDimension: number,
): Candidate[] {
  const cfg = matvecConfigFor(m, k, 32, false, false, true);
  const spec = matvecKernel(cfg, { m, n, k, row0: 0, rows: n, maxWorkgroupsPerDimension });
  const wide = (planes: 2 | 3) => ({
    ...spec,
    key: `${spec.key}:planes${planes}`,
    wgsl: morePlanes(spec.wgsl, planes),
  });
  return [
    { label: "library int8 mat-vec", specs: [spec], partBytes: 0 },
    { label: "two planes (16-bit activations)", specs: [wide(2)], partBytes: 0 },
    { label: "three planes (24-bit activations)", specs: [wide(3)], partBytes: 0 },
    { label: "library int8 mat-vec again", specs: [spec], partBytes: 0 },
  ];
}

/** Made-up activations: three planes of int8 values and the (scale, sum) pairs. */
function threePlaneActivations(device: GPUDevice, mMax: number, k: number): GPUBuffer[] {
  const sizes = quantizedXBytes(mMax, k);
  return [
    uploadStorage(device, "xq", new Uint8Array(3 * sizes.q).map((_, i) => (i * 37) & 0x7f)),
    uploadStorage(
      device,
      "xsc",
      new Float32Array(sizes.scales / 4).map((_, i) => i % 2 ? 3 : 0.01),
    ),
  ];
}

if (import.meta.main) {
  const device = await requestDevice();
  const pass = Deno.args.includes("--pass");
  const args = Deno.args.filter((a) => a !== "--pass");
  const ms = args.length ? intList("M", args.join(",")) : [1, 2];
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  // deno-lint-ignore no-console
  const log = (s: string) => console.log(s);
  await timeCandidates(
    device,
    ms,
    (m, n, k) => wideIntCandidates(m, n, k, maxDim),
    log,
    [[14336, 4096], [4096, 14336], [4096, 4096]],
    { activations: threePlaneActivations, unit: "TOP/s", ops: pass ? 1 : 8 },
  );
}
