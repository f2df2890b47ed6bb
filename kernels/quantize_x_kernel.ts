/**
 * Quantizes f32 activations to 8 bits per 32 for the int8 mat-vec path: per
 * run of 32 values, scale d = max|x| / 127, q = round(x / d) packed four per
 * u32 word, plus the exact f32 sum of the 32 values (the Q5_K min term uses
 * it, so only the q·x products carry quantization error). The same shape as
 * llama.cpp's q8_1 activation blocks (ggml-quants.c quantize_row_q8_1_ref),
 * with the exact sum instead of d·Σq.
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
    let v0 = clamp(vec4<i32>(round(v * id)), vec4<i32>(-${WIDE_X_MAX}), vec4<i32>(${WIDE_X_MAX}));
    let c = ((v0 + vec4<i32>(128)) & vec4<i32>(255)) - vec4<i32>(128);
    let v1 = (v0 - c) >> vec4<u32>(8u);
    let b = ((v1 + vec4<i32>(128)) & vec4<i32>(255)) - vec4<i32>(128);
    let a = (v1 - b) >> vec4<u32>(8u);
    xq[i] = pack4xI8(a);
    xq[i + p.words] = pack4xI8(b);
    xq[i + 2u * p.words] = pack4xI8(c);`
    : /* wgsl */ `
    xq[i] = pack4xI8Clamp(vec4<i32>(round(v * id)));`;
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
var<workgroup> part: array<vec2<f32>, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * p.groups_x) * ${WG}u + lid;
  // Threads past the end load a clamped word and store nothing (the barrier needs them all).
  let v = x[min(i, p.words - 1u)];
  let a = abs(v);
  part[lid] = vec2<f32>(max(max(a.x, a.y), max(a.z, a.w)), (v.x + v.y) + (v.z + v.w));
  workgroupBarrier();
  let first = lid & ~7u;
  var amax = 0.0;
  var sum = 0.0;
  for (var t = 0u; t < 8u; t++) {
    let e = part[first + t];
    amax = max(amax, e.x);
    sum += e.y;
  }
  let d = amax / ${wide ? `${WIDE_X_MAX}.0` : "127.0"};
  let id = select(0.0, 1.0 / d, d > 0.0);
  if (i < p.words) {${store}
    if ((lid & 7u) == 0u) { xs[i / 8u] = vec2<f32>(d, sum); }
  }
}`,
    workgroups: [gx, gy, 1],
    uniforms: new Uint32Array([words, gx, 0, 0]),
  };
}
