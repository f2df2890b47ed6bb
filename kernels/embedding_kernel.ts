/**
 * The Q5_K embedding gather: 256 threads per (id, 16 super-blocks), 16 per
 * block. The workgroup first copies its 16 blocks (2816 contiguous bytes of
 * the id's row) into workgroup memory, one coalesced vec4 load per thread;
 * each thread then decodes 16 weights from there and writes them as four
 * vec4s placed so that every store instruction of a block covers contiguous
 * memory (H200, 4096 ids of 128256×4096, `bench/experiments/embedding_bound.ts`:
 * 29.0 µs a pass against 32.6 with each thread loading its own 9 words). The
 * arithmetic is llama.cpp's
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

/**
 * Compile-time choices of the gather; the library runs the defaults, the
 * others exist for `bench/experiments/embedding_bound.ts`.
 */
export interface EmbeddingConfig {
  /** Super-blocks per workgroup, 16 threads each (default 16: 256 threads). */
  blocksPerGroup?: 4 | 8 | 16;
  /**
   * Whether a workgroup first copies its blocks' words into workgroup memory
   * with one coalesced vec4 load per thread (at most) and decodes from there
   * (default), or each thread loads its 9 words from the table itself (the
   * header's 4 shared by the block's 16 threads, the other 5 by two threads).
   */
  staged?: boolean;
}

/** The embedding kernel for a shape. */
export function embeddingKernel(shape: EmbeddingShape, config: EmbeddingConfig = {}): KernelSpec {
  const bpw = config.blocksPerGroup ?? 16;
  const staged = config.staged ?? true;
  const wg = bpw * 16;
  const nb = shape.k / 256;
  const [gy, gz] = foldWorkgroups(shape.count, shape.maxWorkgroupsPerDimension);
  const key = `q5k-embedding:wg${wg}:16x4${staged ? ":staged" : ""}`;
  return {
    name: `q5_K embedding (wg=${wg}${staged ? ", staged" : ""})`,
    key,
    wgsl: cachedWgsl(key, () => embeddingWgsl(bpw, staged)),
    workgroups: [Math.ceil(nb / bpw), gy, gz],
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

function embeddingWgsl(bpw: number, staged: boolean): string {
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
  // Staged: the workgroup's blocks (contiguous in the table, BLOCK_VEC4 vec4s
  // each) come in as one vec4 per thread, then every read below is from
  // workgroup memory. Blocks past the row's end are not loaded.
  const word = (offset: string) =>
    `${staged ? "ws[lb * BLOCK_U32" : "w[base"}${offset ? ` + ${offset}` : ""}]`;
  const stage = staged
    ? /* wgsl */ `
  let b0 = wid.x * BPW;
  let avail = min(BPW, p.nb - b0) * BLOCK_VEC4;
  let src = select(0u, ((id - p.row0) * p.nb + b0) * BLOCK_VEC4, mine);
  for (var v = lid; v < avail; v += WG) {
    let q = wv[src + v];
    ws[4u * v] = q.x;
    ws[4u * v + 1u] = q.y;
    ws[4u * v + 2u] = q.z;
    ws[4u * v + 3u] = q.w;
  }
  workgroupBarrier();
  if (i >= p.count || b >= p.nb) { return; }
  let lb = lid / 16u;`
    : "";
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${bpw * 16}u;
const BPW = ${bpw}u;

struct Params {
  count: u32, k: u32, nb: u32, row0: u32,
  rows: u32, groups_y: u32, _a: u32, table_rows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
${
    staged
      ? `@group(0) @binding(1) var<storage, read> wv: array<vec4<u32>>;
var<workgroup> ws: array<u32, ${bpw * 44}>;`
      : "@group(0) @binding(1) var<storage, read> w: array<u32>;"
  }
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.y + wid.z * p.groups_y;
  let b = wid.x * BPW + lid / 16u;
  ${
    staged
      ? "// Every thread reaches the barrier: the ranges are checked after it."
      : "if (i >= p.count || b >= p.nb) { return; }"
  }
  // Thread t of a block writes output vec4s t, t + 16, t + 32, t + 48, so each
  // store instruction covers contiguous memory: vec4 v holds weights 4v..4v+3
  // of sub-block v / 8 = t / 8 + 2s (qs group s, low nibbles for t < 8),
  // qs/qh word t % 8 of that group.
  let t = lid % 16u;
  let l4 = t % 8u;
  let hi = t / 8u;
  let id = ids[${staged ? "min(i, p.count - 1u)" : "i"}];
  // lookup() range-checks ids on the host; ids that reach the GPU out of range
  // through encode() never read outside the table: their words come from
  // the chunk's first row, and the first chunk's dispatch writes zeros for
  // them. Rows of other chunks are their own dispatch's. Every load is issued
  // before the first store.
  let mine = id < p.table_rows && id >= p.row0 && id - p.row0 < p.rows;${
    staged ? stage : `
  let base = select(0u, ((id - p.row0) * p.nb + b) * BLOCK_U32, mine);`
  }
  let hd = ${word("")};
  let sc = vec3<u32>(${word("1u")}, ${word("2u")}, ${word("3u")});
  let qh = ${word("QH_U32 + l4")};
  let qs0 = ${word("QS_U32 + l4")};
  let qs1 = ${word("QS_U32 + 8u + l4")};
  let qs2 = ${word("QS_U32 + 16u + l4")};
  let qs3 = ${word("QS_U32 + 24u + l4")};
  let out = i * (p.k / 4u) + b * 64u + t;
  if (mine) {
    let d = f16_bits_to_f32(hd & 0xffffu);
    let dmin = f16_bits_to_f32(hd >> 16u);${decode}
  } else if (id >= p.table_rows && p.row0 == 0u) {${zeros}
  }
}
`;
}
