/**
 * Dense baselines of the same shapes with f16 weights (two halves per u32,
 * decoded by unpack2x16float, so no `shader-f16` is needed): what Q5_K is
 * measured against ("what quantization buys"). Mat-vec for small M, a tiled
 * kernel like the Q5_K one for large M, both f32-accumulating.
 *
 * @module
 */

import type { KernelSpec } from "../kernels/_gpu.ts";
import { ceilDiv, foldWorkgroups } from "../kernels/dispatch.ts";

/** Shape of a dense dispatch. */
export interface DenseShape {
  m: number;
  n: number;
  k: number;
  maxWorkgroupsPerDimension: number;
}

const WG = 256;
const COLS = 8;

/** Dense f16 mat-vec: one output row per workgroup, up to 8 activation columns per pass. */
export function denseMatvecKernel(shape: DenseShape, subgroups: boolean): KernelSpec {
  const c = Math.min(shape.m, COLS);
  const [gx, gy] = foldWorkgroups(shape.n, shape.maxWorkgroupsPerDimension);
  const reduce = subgroups
    ? `
  let sg_id = lid / sg_size;
  for (var v = 0u; v < C; v++) {
    let s = subgroupAdd(acc[v]);
    if (sg_lane == 0u) { red[sg_id * C + v] = s; }
  }
  workgroupBarrier();
  var total = 0.0;
  if (lid < C) { for (var i = 0u; i < (WG + sg_size - 1u) / sg_size; i++) { total += red[i * C + lid]; } }`
    : `
  for (var v = 0u; v < C; v++) { red[v * WG + lid] = acc[v]; }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { for (var v = 0u; v < C; v++) { red[v * WG + lid] += red[v * WG + lid + s]; } }
    workgroupBarrier();
  }
  var total = 0.0;
  if (lid < C) { total = red[lid * WG]; }`;
  return {
    name: `dense f16 matvec (cols=${c})`,
    key: `bench-dense-matvec:c${c}:${subgroups ? "sg" : "wgmem"}`,
    wgsl: /* wgsl */ `
const WG = ${WG}u;
const C = ${c}u;
struct Params { m: u32, n: u32, k8: u32, groups_x: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;   // 8 halves per vec4
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
var<workgroup> red: array<f32, ${subgroups ? (WG / 4) * c : WG * c}>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${
      subgroups
        ? ", @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32"
        : ""
    }) {
  let row = wid.x + wid.y * p.groups_x;
  if (row >= p.n) { return; }
  let col0 = wid.z * C;
  var acc: array<f32, C>;
  for (var i = lid; i < p.k8; i += WG) {
    let q = w[row * p.k8 + i];
    let w0 = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
    let w1 = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
    for (var c = 0u; c < C; c++) {
      let xb = min(col0 + c, p.m - 1u) * (p.k8 * 2u) + 2u * i;
      acc[c] += dot(w0, x[xb]) + dot(w1, x[xb + 1u]);
    }
  }
${reduce}
  if (lid < C && col0 + lid < p.m) { y[(col0 + lid) * p.n + row] = total; }
}`,
    workgroups: [gx, gy, ceilDiv(shape.m, c)],
    uniforms: new Uint32Array([shape.m, shape.n, shape.k / 8, gx]),
  };
}

/** Dense f16 tiled mat-mat: 64×64 tiles, K-step 32, 4×4 register tiles. */
export function denseTiledKernel(shape: DenseShape): KernelSpec {
  const tilesN = ceilDiv(shape.n, 64);
  const tilesM = ceilDiv(shape.m, 64);
  const [gx, gy] = foldWorkgroups(tilesN * tilesM, shape.maxWorkgroupsPerDimension);
  return {
    name: "dense f16 tiled (64x64x32)",
    key: "bench-dense-tiled",
    wgsl: /* wgsl */ `
const BM = 64u;
const BN = 64u;
const BK = 32u;
const WG = 256u;
struct Params { m: u32, n: u32, k: u32, groups_x: u32, tiles_n: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
var<workgroup> xs: array<vec4<f32>, ${(32 * 64) / 4}>;
var<workgroup> ws: array<vec4<f32>, ${(32 * 64) / 4}>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * p.groups_x;
  if (tile >= p.tiles_n * ((p.m + BM - 1u) / BM)) { return; }
  let n0 = (tile % p.tiles_n) * BN;
  let m0 = (tile / p.tiles_n) * BM;
  let tn = lid % 16u;
  let tm = lid / 16u;
  let k4 = p.k / 4u;
  var acc: array<vec4<f32>, 4>;
  let wn = lid / 4u;
  let part = lid % 4u;
  let wrow = min(n0 + wn, p.n - 1u);
  for (var kb = 0u; kb < p.k; kb += BK) {
    if (lid < 128u) {
      let mq = lid % 16u;
      let kq = lid / 16u;
      var v: array<vec4<f32>, 4>;
      for (var i = 0u; i < 4u; i++) {
        let row = m0 + 4u * mq + i;
        v[i] = select(vec4<f32>(0.0), x[min(row, p.m - 1u) * k4 + kb / 4u + kq], row < p.m);
      }
      xs[(4u * kq + 0u) * 16u + mq] = vec4<f32>(v[0].x, v[1].x, v[2].x, v[3].x);
      xs[(4u * kq + 1u) * 16u + mq] = vec4<f32>(v[0].y, v[1].y, v[2].y, v[3].y);
      xs[(4u * kq + 2u) * 16u + mq] = vec4<f32>(v[0].z, v[1].z, v[2].z, v[3].z);
      xs[(4u * kq + 3u) * 16u + mq] = vec4<f32>(v[0].w, v[1].w, v[2].w, v[3].w);
    }
    let q = w[(wrow * p.k + kb) / 8u + part];
    let a = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
    let b = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
    let kk = 8u * part;
    let lane = wn % 4u;
    let col = wn / 4u;
    ws[(kk + 0u) * 16u + col][lane] = a.x;
    ws[(kk + 1u) * 16u + col][lane] = a.y;
    ws[(kk + 2u) * 16u + col][lane] = a.z;
    ws[(kk + 3u) * 16u + col][lane] = a.w;
    ws[(kk + 4u) * 16u + col][lane] = b.x;
    ws[(kk + 5u) * 16u + col][lane] = b.y;
    ws[(kk + 6u) * 16u + col][lane] = b.z;
    ws[(kk + 7u) * 16u + col][lane] = b.w;
    workgroupBarrier();
    for (var kk2 = 0u; kk2 < BK; kk2++) {
      let bv = ws[kk2 * 16u + tn];
      let av = xs[kk2 * 16u + tm];
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + 4u * tm + i;
    if (row < p.m) {
      for (var c = 0u; c < 4u; c++) {
        let n = n0 + 4u * tn + c;
        if (n < p.n) { y[row * p.n + n] = acc[i][c]; }
      }
    }
  }
}`,
    workgroups: [gx, gy, 1],
    uniforms: new Uint32Array([shape.m, shape.n, shape.k, gx, tilesN, 0, 0, 0]),
  };
}
