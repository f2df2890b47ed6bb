/**
 * The tiled Q5_K mat-mat kernel for large M (prefill).
 *
 * Each workgroup computes a BM×BN tile of y; per K-step of one 32-weight
 * sub-block it stages BM×32 activations and dequantizes BN×32 weights into
 * workgroup memory — each thread decodes two u32 words of qs and qh (8
 * weights, four per word) with the same f32 operation order as llama.cpp —
 * then every thread accumulates a TM×4 register tile in f32.
 *
 * @module
 */

import type { KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import { ceilDiv, foldWorkgroups } from "./dispatch.ts";

/** Compile-time choices of the tiled kernel. */
export interface TiledConfig {
  /** Rows of M per tile: 64 (4 per thread) or 128 (8 per thread). */
  bm: 64 | 128;
  /** Add a bias vector. */
  bias: boolean;
}

/** Runtime shape of one tiled dispatch (one weight chunk). */
export interface TiledShape {
  m: number;
  n: number;
  k: number;
  row0: number;
  rows: number;
  maxWorkgroupsPerDimension: number;
}

const BN = 64;
const BK = 32;

/** The tiled kernel for a config and shape. */
export function tiledKernel(cfg: TiledConfig, shape: TiledShape): KernelSpec {
  const tilesN = ceilDiv(shape.rows, BN);
  const tilesM = ceilDiv(shape.m, cfg.bm);
  const [gx, gy] = foldWorkgroups(tilesN * tilesM, shape.maxWorkgroupsPerDimension);
  return {
    name: `q5_K tiled (${cfg.bm}x${BN}x${BK})`,
    key: `q5k-tiled:bm${cfg.bm}:${cfg.bias ? "bias" : "nobias"}`,
    wgsl: tiledWgsl(cfg),
    workgroups: [gx, gy, 1],
    uniforms: new Uint32Array([
      shape.m,
      shape.n,
      shape.k,
      shape.k / 256,
      shape.row0,
      shape.rows,
      gx,
      tilesN,
    ]),
  };
}

function tiledWgsl(cfg: TiledConfig): string {
  const tm = cfg.bm / 16;
  return /* wgsl */ `${Q5K_WGSL}
const BM = ${cfg.bm}u;
const BN = ${BN}u;
const BK = ${BK}u;
const TM = ${tm}u;        // output rows (of M) per thread
const WG = 256u;          // 16 x 16 threads

struct Params {
  m: u32, n: u32, k: u32, nb: u32,
  row0: u32, rows: u32, groups_x: u32, tiles_n: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${cfg.bias ? "@group(0) @binding(4) var<storage, read> bias: array<f32>;" : ""}

var<workgroup> xs: array<vec4<f32>, ${(BK * cfg.bm) / 4}>;  // [kk][m / 4]
var<workgroup> ws: array<vec4<f32>, ${(BK * BN) / 4}>;      // [kk][n / 4]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * p.groups_x;
  if (tile >= p.tiles_n * ((p.m + BM - 1u) / BM)) { return; }
  let n0 = (tile % p.tiles_n) * BN;
  let m0 = (tile / p.tiles_n) * BM;
  let tn = lid % 16u;
  let tm = lid / 16u;
  let k4 = p.k / 4u;
  var acc: array<vec4<f32>, TM>;
  // Weight decode: 4 threads per row of the tile, 8 weights each.
  let wn = lid / 4u;
  let part = lid % 4u;
  let wrow = min(n0 + wn, p.rows - 1u);
  for (var kb = 0u; kb < p.k; kb += BK) {
    // Activations: a 4x4 (rows x k) patch per thread, transposed on store.
    for (var e = lid; e < (BM / 4u) * (BK / 4u); e += WG) {
      let mq = e % (BM / 4u);
      let kq = e / (BM / 4u);
      var v: array<vec4<f32>, 4>;
      for (var i = 0u; i < 4u; i++) {
        let row = m0 + 4u * mq + i;
        // Assigned on every path: naga initializes loop-local variables only once.
        v[i] = select(vec4<f32>(0.0), x[min(row, p.m - 1u) * k4 + kb / 4u + kq], row < p.m);
      }
      xs[(4u * kq + 0u) * (BM / 4u) + mq] = vec4<f32>(v[0].x, v[1].x, v[2].x, v[3].x);
      xs[(4u * kq + 1u) * (BM / 4u) + mq] = vec4<f32>(v[0].y, v[1].y, v[2].y, v[3].y);
      xs[(4u * kq + 2u) * (BM / 4u) + mq] = vec4<f32>(v[0].z, v[1].z, v[2].z, v[3].z);
      xs[(4u * kq + 3u) * (BM / 4u) + mq] = vec4<f32>(v[0].w, v[1].w, v[2].w, v[3].w);
    }
    {
      let blk = kb / BLOCK_WEIGHTS;
      let j = (kb % BLOCK_WEIGHTS) / 32u;   // sub-block
      let base = (wrow * p.nb + blk) * BLOCK_U32;
      let hdr = w[base];
      let sm = scale_min(j, w[base + 1u], w[base + 2u], w[base + 3u]);
      let d1 = f16_bits_to_f32(hdr & 0xffffu) * f32(sm.x);
      let m1 = f16_bits_to_f32(hdr >> 16u) * f32(sm.y);
      let qs_at = base + QS_U32 + 8u * (j / 2u) + 2u * part;
      let qh_at = base + QH_U32 + 2u * part;
      let q0 = unpack_q(quants4(w[qs_at], w[qh_at], j));
      let q1 = unpack_q(quants4(w[qs_at + 1u], w[qh_at + 1u], j));
      // ws[kk][n]: scalar lanes of the vec4 holding column wn.
      let kk = 8u * part;
      let lane = wn % 4u;
      let col = wn / 4u;
      let v0 = d1 * q0 - m1;
      let v1 = d1 * q1 - m1;
      ws[(kk + 0u) * (BN / 4u) + col][lane] = v0.x;
      ws[(kk + 1u) * (BN / 4u) + col][lane] = v0.y;
      ws[(kk + 2u) * (BN / 4u) + col][lane] = v0.z;
      ws[(kk + 3u) * (BN / 4u) + col][lane] = v0.w;
      ws[(kk + 4u) * (BN / 4u) + col][lane] = v1.x;
      ws[(kk + 5u) * (BN / 4u) + col][lane] = v1.y;
      ws[(kk + 6u) * (BN / 4u) + col][lane] = v1.z;
      ws[(kk + 7u) * (BN / 4u) + col][lane] = v1.w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let b = ws[kk * (BN / 4u) + tn];
      for (var i = 0u; i < TM / 4u; i++) {
        let a = xs[kk * (BM / 4u) + tm + 16u * i];
        acc[4u * i + 0u] += a.x * b;
        acc[4u * i + 1u] += a.y * b;
        acc[4u * i + 2u] += a.z * b;
        acc[4u * i + 3u] += a.w * b;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TM; i++) {
    let row = m0 + 4u * (tm + 16u * (i / 4u)) + i % 4u;
    if (row < p.m) {
      for (var c = 0u; c < 4u; c++) {
        let n_local = n0 + 4u * tn + c;
        if (n_local < p.rows) {
          let n_idx = p.row0 + n_local;
          y[row * p.n + n_idx] = acc[i][c]${cfg.bias ? " + bias[n_idx]" : ""};
        }
      }
    }
  }
}
`;
}
