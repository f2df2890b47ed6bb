/**
 * Quantizes f32 activations to 8 bits per 32 for the int8 mat-vec path: per
 * run of 32 values, scale d = max|x| / 127, q = round(x / d) packed four per
 * u32 word, plus d·Σq, the sum of the 32 quantized values, for the Q5_K min
 * term. The same as llama.cpp's q8_1 activation blocks (ggml-quants.c
 * quantize_row_q8_1_ref, s = d·Σq). The sum must be the quantized one: the
 * result is then exactly Σ w·x̂ over the dequantized weights w = d·sc·q −
 * dmin·m, whose error is Σ w·(x̂ − x). With the exact Σx instead (this kernel
 * before 0.2.0) the error became Σ d·sc·q·(x̂ − x): weights offset by their
 * min, several times the error on activations with outlier channels (the
 * committed `llm, x=outliers` cases on lavapipe: NMSE 3.6e-4…6.7e-4 against
 * the ideal per-32 scheme's 1.2e-4…1.4e-4, which it now equals).
 *
 * With three planes the values keep 24 bits per 32 instead: d = max|x| /
 * (127·2¹⁶), v = round(x / d), written as three balanced base-256 digits
 * v = 2¹⁶·a + 2⁸·b + c (each in −128…127) in three planes of m·k bytes, so
 * the int8 kernels' packed products still apply, three per weight word
 * (the f32-class accuracy of `activations: "auto"`, NMSE ≈ 1e-14).
 *
 * @module
 */

import type { KernelSpec } from "./_gpu.ts";
import { ceilDiv, foldWorkgroups } from "./dispatch.ts";

const WG = 256;

/** Digit planes of the quantized activations: 1 (8 bits per 32 values) or 3 (24 bits). */
export type XPlanes = 1 | 3;

/** The largest |v| of 24-bit activations: 127·2¹⁶, so the top digit stays within ±127. */
export const WIDE_X_MAX = 127 * 65536;

/** Bytes of quantized activations (every plane) and of (scale, sum) pairs for m·k values. */
export function quantizedXBytes(
  m: number,
  k: number,
  planes: XPlanes = 1,
): { q: number; scales: number } {
  return { q: planes * m * k, scales: (m * k / 32) * 8 };
}

/**
 * The kernel quantizing m·k activations (k a multiple of 32): one thread per
 * 4 values, the 8 threads of a run of 32 meeting in workgroup memory (no
 * subgroups needed), so even one row of K = 14336 spreads over 14 workgroups.
 * With `planes` 3, each word's three digit words go to planes m·k/4 words
 * apart.
 */
export function quantizeXKernel(
  m: number,
  k: number,
  maxWorkgroupsPerDimension: number,
  planes: XPlanes = 1,
): KernelSpec {
  const words = (m * k) / 4;
  const [gx, gy] = foldWorkgroups(ceilDiv(words, WG), maxWorkgroupsPerDimension);
  const wide = planes === 3;
  const store = wide
    ? /* wgsl */ `
    // Balanced base-256 digits, exact: c and b in −128…127, and a too since
    // |v| ≤ 127·2¹⁶ (v − c and v1 − b are multiples of 256).
    let c = ((v0 + vec4<i32>(128)) & vec4<i32>(255)) - vec4<i32>(128);
    let v1 = (v0 - c) >> vec4<u32>(8u);
    let b = ((v1 + vec4<i32>(128)) & vec4<i32>(255)) - vec4<i32>(128);
    let a = (v1 - b) >> vec4<u32>(8u);
    xq[i] = pack4xI8(a);
    xq[i + p.words] = pack4xI8(b);
    xq[i + 2u * p.words] = pack4xI8(c);`
    : /* wgsl */ `
    xq[i] = pack4xI8(v0);`;
  const ints = wide
    ? `clamp(vec4<i32>(round(v * id)), vec4<i32>(-${WIDE_X_MAX}), vec4<i32>(${WIDE_X_MAX}))`
    : `clamp(vec4<i32>(round(v * id)), vec4<i32>(-127), vec4<i32>(127))`;
  return {
    name: wide
      ? "f32 → 24-bit activations (per 32, three int8 planes)"
      : "f32 → int8 activations (per 32)",
    key: wide ? "q24-activations" : "q8-activations",
    wgsl: /* wgsl */ `
struct Params { words: u32, groups_x: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> xq: array<u32>;
@group(0) @binding(3) var<storage, read_write> xs: array<vec2<f32>>;
var<workgroup> part: array<f32, ${WG}>;
var<workgroup> qsum: array<i32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * p.groups_x) * ${WG}u + lid;
  // Threads past the end load a clamped word and store nothing (the barrier needs them all).
  let v = x[min(i, p.words - 1u)];
  let a = abs(v);
  part[lid] = max(max(a.x, a.y), max(a.z, a.w));
  workgroupBarrier();
  let first = lid & ~7u;
  var amax = 0.0;
  for (var t = 0u; t < 8u; t++) { amax = max(amax, part[first + t]); }
  let d = amax / ${wide ? `${WIDE_X_MAX}.0` : "127.0"};
  let id = select(0.0, 1.0 / d, d > 0.0);
  let v0 = ${ints};
  qsum[lid] = (v0.x + v0.y) + (v0.z + v0.w);
  workgroupBarrier();
  if (i < p.words) {${store}
    if ((lid & 7u) == 0u) {
      var total = 0;
      for (var t = 0u; t < 8u; t++) { total += qsum[first + t]; }
      xs[i / 8u] = vec2<f32>(d, d * f32(total));
    }
  }
}`,
    workgroups: [gx, gy, 1],
    uniforms: new Uint32Array([words, gx, 0, 0]),
  };
}
