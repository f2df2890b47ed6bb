/**
 * Transposes f32 activations from M×K (row-major, as callers give them) to
 * K×Mp, Mp = M rounded up to a multiple of 4 with zero rows, for the K-major
 * tiled kernel: it then stages each K-step's activations with one coalesced
 * vec4 load and one vec4 store a thread, where transposing them itself cost
 * it a fifth of its time (`bench/experiments/tiled_ablation.ts`). One
 * workgroup moves a 32×32 tile through workgroup memory, so reads and
 * writes are both 128-byte runs.
 *
 * @module
 */

import type { KernelSpec } from "./_gpu.ts";
import { ceilDiv, foldWorkgroups } from "./dispatch.ts";

/** Bytes of the transposed activations of m rows of k: k·ceil(m/4)·16. */
export function transposedXBytes(m: number, k: number): number {
  return k * ceilDiv(m, 4) * 16;
}

/** The kernel writing x (m×k, k a multiple of 32) as k rows of ceil(m/4) vec4s. */
export function transposeXKernel(
  m: number,
  k: number,
  maxWorkgroupsPerDimension: number,
): KernelSpec {
  const tilesM = ceilDiv(m, 32);
  const [gx, gy] = foldWorkgroups(tilesM * (k / 32), maxWorkgroupsPerDimension);
  return {
    name: "f32 activations → K-major",
    key: "x-transpose",
    wgsl: /* wgsl */ `
struct Params { m: u32, k: u32, tiles_m: u32, groups_x: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> xt: array<vec4<f32>>;
var<workgroup> tile: array<array<f32, 33>, 32>;  // [m][k], padded against bank conflicts

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * p.groups_x;
  if (t >= p.tiles_m * (p.k / 32u)) { return; }
  let m0 = (t % p.tiles_m) * 32u;
  let k0 = (t / p.tiles_m) * 32u;
  // Read: 8 lanes a row, one vec4 of K each.
  let r = lid / 8u;
  let q = lid % 8u;
  let row = m0 + r;
  let v = select(vec4<f32>(0.0), x[min(row, p.m - 1u) * (p.k / 4u) + k0 / 4u + q], row < p.m);
  tile[r][4u * q] = v.x;
  tile[r][4u * q + 1u] = v.y;
  tile[r][4u * q + 2u] = v.z;
  tile[r][4u * q + 3u] = v.w;
  workgroupBarrier();
  // Write: 8 lanes a K row, one vec4 of 4 rows each, up to the padded width.
  let kk = lid / 8u;
  let m4 = m0 / 4u + q;
  let mt4 = (p.m + 3u) / 4u;
  if (m4 < mt4) {
    xt[(k0 + kk) * mt4 + m4] = vec4<f32>(
      tile[4u * q][kk], tile[4u * q + 1u][kk], tile[4u * q + 2u][kk], tile[4u * q + 3u][kk],
    );
  }
}`,
    workgroups: [gx, gy, 1],
    uniforms: new Uint32Array([m, k, tilesM, gx]),
  };
}
