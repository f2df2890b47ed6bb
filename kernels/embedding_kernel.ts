/**
 * The Q5_K embedding gather: 256 threads per (id, run of super-blocks), each
 * thread writing four consecutive weights as one vec4, four blocks per step. The arithmetic is llama.cpp's
 * `dequantize_row_q5_K`: `d1 = d·sc` and `m1 = dmin·mn` rounded to f32, then
 * `d1·q − m1`. Where the shader compiler contracts that last step into a fused
 * multiply-add (WGSL cannot forbid it), the result can differ from llama.cpp by
 * the rounding of `d1·q`, at most half an ulp of the product.
 *
 * @module
 */

import { envVar } from "./_env.ts";
import type { KernelSpec } from "./_gpu.ts";
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

/** 256 threads: four super-blocks at a time, one vec4 of output per thread. */
const WG = 256;

/** Super-blocks one workgroup covers (a multiple of 4; tunable by KQUANT_EMB). */
function blocksPerWorkgroup(nb: number): number {
  const tuned = Number(envVar("KQUANT_EMB") ?? "");
  const want = tuned >= 4 ? tuned : 4;
  return Math.min(Math.ceil(nb / 4) * 4, want - (want % 4));
}

/** The embedding kernel for a shape. */
export function embeddingKernel(shape: EmbeddingShape): KernelSpec {
  const nb = shape.k / 256;
  const bpw = blocksPerWorkgroup(nb);
  const [gy, gz] = foldWorkgroups(shape.count, shape.maxWorkgroupsPerDimension);
  return {
    name: `q5_K embedding (wg=${WG})`,
    key: `q5k-embedding:wg${WG}`,
    wgsl: embeddingWgsl(),
    workgroups: [Math.ceil(nb / bpw), gy, gz],
    uniforms: new Uint32Array([
      shape.count,
      shape.k,
      nb,
      shape.row0,
      shape.rows,
      gy,
      bpw,
      shape.tableRows,
    ]),
  };
}

function embeddingWgsl(): string {
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${WG}u;

struct Params {
  count: u32, k: u32, nb: u32, row0: u32,
  rows: u32, groups_y: u32, bpw: u32, table_rows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.y + wid.z * p.groups_y;
  if (i >= p.count) { return; }
  let id = ids[i];
  let t = lid % 64u;
  // lookup() range-checks ids on the host; ids that reach the GPU out of range
  // through encode() never read outside the table: the first chunk's dispatch
  // writes zeros for them. Rows of other chunks are their own dispatch's.
  if (id >= p.table_rows) {
    if (p.row0 == 0u) {
      let b_stop = min(p.nb, (wid.x + 1u) * p.bpw);
      for (var b = wid.x * p.bpw + lid / 64u; b < b_stop; b += 4u) {
        y[i * (p.k / 4u) + b * 64u + t] = vec4<f32>(0.0);
      }
    }
    return;
  }
  if (id < p.row0 || id - p.row0 >= p.rows) { return; }
  let j = t / 8u;          // sub-block of weights 4t .. 4t + 3
  let l4 = t % 8u;         // word within the sub-block's 32 qs bytes
  let b_end = min(p.nb, (wid.x + 1u) * p.bpw);
  for (var b = wid.x * p.bpw + lid / 64u; b < b_end; b += 4u) {
    // Scalar words: picking a component of a loaded vector by a runtime index
    // can make compilers go through local memory.
    let base = ((id - p.row0) * p.nb + b) * BLOCK_U32;
    let qs = w[base + QS_U32 + 8u * (j / 2u) + l4];
    let qh = w[base + QH_U32 + l4];
    let sm = scale_min(j, w[base + 1u], w[base + 2u], w[base + 3u]);
    let hd = w[base];
    let d1 = f16_bits_to_f32(hd & 0xffffu) * f32(sm.x);
    let m1 = f16_bits_to_f32(hd >> 16u) * f32(sm.y);
    y[i * (p.k / 4u) + b * 64u + t] = d1 * unpack_q(quants4(qs, qh, j)) - m1;
  }
}
`;
}
