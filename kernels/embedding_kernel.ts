/**
 * The Q5_K embedding gather: 256 threads per (id, 16 super-blocks), 16 per
 * block, each thread writing four vec4s (16 weights) so that every store
 * instruction of a block covers contiguous memory. The arithmetic is llama.cpp's
 * `dequantize_row_q5_K`: `d1 = d·sc` and `m1 = dmin·mn` rounded to f32, then
 * `d1·q − m1`. Where the shader compiler contracts that last step into a fused
 * multiply-add (WGSL cannot forbid it), the result can differ from llama.cpp by
 * the rounding of `d1·q`, at most half an ulp of the product.
 *
 * @module
 */

import { cachedWgsl, type KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import { foldWorkgroups } from "./dispatch.ts";

/** Runtime shape of one gather dispatch (one table chunk). */
export interface EmbeddingShape {
  count: number;
  k: number;
  row0: number;
  rows: number;
  /** Rows of the whole table: ids at or past it come out as zeros (from the first chunk's dispatch). */
  tableRows: number;
  maxWorkgroupsPerDimension: number;
}

/** 256 threads: 16 per super-block, 16 super-blocks per workgroup. */
const WG = 256;
/** Super-blocks per workgroup. */
const BPW = WG / 16;

/** The embedding kernel for a shape. */
export function embeddingKernel(shape: EmbeddingShape): KernelSpec {
  const nb = shape.k / 256;
  const [gy, gz] = foldWorkgroups(shape.count, shape.maxWorkgroupsPerDimension);
  const key = `q5k-embedding:wg${WG}:16x4`;
  return {
    name: `q5_K embedding (wg=${WG})`,
    key,
    wgsl: cachedWgsl(key, embeddingWgsl),
    workgroups: [Math.ceil(nb / BPW), gy, gz],
    uniforms: new Uint32Array([
      shape.count,
      shape.k,
      nb,
      shape.row0,
      shape.rows,
      gy,
      0,
      shape.tableRows,
    ]),
  };
}

function embeddingWgsl(): string {
  // Output vec4 t + 16·s holds weights of sub-block t / 8 + 2s, from qs group s.
  const decode = [0, 1, 2, 3].map((s) => /* wgsl */ `
    {
      let j = hi + ${2 * s}u;
      let sm = scale_min(j, sc.x, sc.y, sc.z);
      let d1 = d * f32(sm.x);
      let m1 = dmin * f32(sm.y);
      y[out + ${16 * s}u] = d1 * unpack_q(quants4(qs${s}, qh, j)) - m1;
    }`).join("");
  const zeros = [0, 1, 2, 3].map((s) => `
    y[out + ${16 * s}u] = vec4<f32>(0.0);`).join("");
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${WG}u;
const BPW = ${BPW}u;

struct Params {
  count: u32, k: u32, nb: u32, row0: u32,
  rows: u32, groups_y: u32, _a: u32, table_rows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.y + wid.z * p.groups_y;
  let b = wid.x * BPW + lid / 16u;
  if (i >= p.count || b >= p.nb) { return; }
  // Thread t of a block writes output vec4s t, t + 16, t + 32, t + 48, so each
  // store instruction covers contiguous memory: vec4 v holds weights 4v..4v+3
  // of sub-block v / 8 = t / 8 + 2s (qs group s, low nibbles for t < 8),
  // qs/qh word t % 8 of that group.
  let t = lid % 16u;
  let l4 = t % 8u;
  let hi = t / 8u;
  let id = ids[i];
  // lookup() range-checks ids on the host; ids that reach the GPU out of range
  // through encode() never read outside the table: their words come from
  // block 0 of the chunk, and the first chunk's dispatch writes zeros for
  // them. Rows of other chunks are their own dispatch's. Every load is issued
  // before the first store.
  let mine = id < p.table_rows && id >= p.row0 && id - p.row0 < p.rows;
  let base = select(0u, ((id - p.row0) * p.nb + b) * BLOCK_U32, mine);
  let hd = w[base];
  let sc = vec3<u32>(w[base + 1u], w[base + 2u], w[base + 3u]);
  let qh = w[base + QH_U32 + l4];
  let qs0 = w[base + QS_U32 + l4];
  let qs1 = w[base + QS_U32 + 8u + l4];
  let qs2 = w[base + QS_U32 + 16u + l4];
  let qs3 = w[base + QS_U32 + 24u + l4];
  let out = i * (p.k / 4u) + b * 64u + t;
  if (mine) {
    let d = f16_bits_to_f32(hd & 0xffffu);
    let dmin = f16_bits_to_f32(hd >> 16u);${decode}
  } else if (id >= p.table_rows && p.row0 == 0u) {${zeros}
  }
}
`;
}
