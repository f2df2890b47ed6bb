/**
 * The Q5_K embedding gather: one workgroup per id, each thread writing four
 * consecutive weights as one vec4 per step. The arithmetic is llama.cpp's
 * `dequantize_row_q5_K`: `d1 = d·sc` and `m1 = dmin·mn` rounded to f32, then
 * `d1·q − m1`. Where the shader compiler contracts that last step into a fused
 * multiply-add (WGSL cannot forbid it), the result can differ from llama.cpp by
 * the rounding of `d1·q`, at most half an ulp of the product.
 *
 * @module
 */

import type { KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import { foldWorkgroups } from "./dispatch.ts";

/** Runtime shape of one gather dispatch (one table chunk). */
export interface EmbeddingShape {
  count: number;
  k: number;
  row0: number;
  rows: number;
  maxWorkgroupsPerDimension: number;
}

const WG = 64;

/** The embedding kernel for a shape. */
export function embeddingKernel(shape: EmbeddingShape): KernelSpec {
  const [gx, gy] = foldWorkgroups(shape.count, shape.maxWorkgroupsPerDimension);
  return {
    name: `q5_K embedding (wg=${WG})`,
    key: `q5k-embedding:wg${WG}`,
    wgsl: embeddingWgsl(),
    workgroups: [gx, gy, 1],
    uniforms: new Uint32Array([
      shape.count,
      shape.k,
      shape.k / 256,
      shape.row0,
      shape.rows,
      gx,
      0,
      0,
    ]),
  };
}

function embeddingWgsl(): string {
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${WG}u;

struct Params {
  count: u32, k: u32, nb: u32, row0: u32,
  rows: u32, groups_x: u32, _pad0: u32, _pad1: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x + wid.y * p.groups_x;
  if (i >= p.count) { return; }
  let id = ids[i];
  // Ids were range-checked on the host; rows of other chunks are their dispatch's.
  if (id < p.row0 || id - p.row0 >= p.rows) { return; }
  let row = id - p.row0;
  let out = i * (p.k / 4u);
  for (var e = lid; e < p.nb * 64u; e += WG) {
    let b = e / 64u;
    let t = e % 64u;          // weights 4t .. 4t + 3 of block b
    let j = t / 8u;           // sub-block
    let l4 = t % 8u;          // word within the sub-block's 32 bytes
    let base = (row * p.nb + b) * BLOCK_U32;
    let hdr = w[base];
    let sm = scale_min(j, w[base + 1u], w[base + 2u], w[base + 3u]);
    let d1 = f16_bits_to_f32(hdr & 0xffffu) * f32(sm.x);
    let m1 = f16_bits_to_f32(hdr >> 16u) * f32(sm.y);
    let q = unpack_q(quants4(w[base + QS_U32 + 8u * (j / 2u) + l4], w[base + QH_U32 + l4], j));
    y[out + e] = d1 * q - m1;
  }
}
`;
}
