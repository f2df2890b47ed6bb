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
  /** Ids per workgroup, each id's blocks staged before the one barrier (staged only; default 1). */
  idsPerGroup?: 1 | 2 | 4;
}

/** The embedding kernel for a shape. */
export function embeddingKernel(shape: EmbeddingShape, config: EmbeddingConfig = {}): KernelSpec {
  const bpw = config.blocksPerGroup ?? 16;
  const staged = config.staged ?? true;
  const ipg = staged ? config.idsPerGroup ?? 1 : 1;
  const wg = bpw * 16;
  const nb = shape.k / 256;
  const [gy, gz] = foldWorkgroups(Math.ceil(shape.count / ipg), shape.maxWorkgroupsPerDimension);
  const key = `q5k-embedding:wg${wg}:16x4${staged ? `:staged${ipg > 1 ? `x${ipg}` : ""}` : ""}`;
  const form = staged ? `, staged${ipg > 1 ? `, ${ipg} ids` : ""}` : "";
  return {
    name: `q5_K embedding (wg=${wg}${form})`,
    key,
    wgsl: cachedWgsl(key, () => staged ? stagedWgsl(bpw, ipg) : embeddingWgsl(bpw)),
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

/** The four vec4s a thread writes: output vec4 t + 16·s holds weights of sub-block t / 8 + 2s, from qs group s. */
function decodeStores(indent: string): string {
  return [0, 1, 2, 3].map((s) => `
${indent}{
${indent}  let j = hi + ${2 * s}u;
${indent}  let sm = scale_min(j, sc.x, sc.y, sc.z);
${indent}  let d1 = d * f32(sm.x);
${indent}  let m1 = dmin * f32(sm.y);
${indent}  y[out + ${16 * s}u] = d1 * unpack_q(quants4(qs${s}, qh, j)) - m1;
${indent}}`).join("");
}

function zeroStores(indent: string): string {
  return [0, 1, 2, 3].map((s) => `
${indent}y[out + ${16 * s}u] = vec4<f32>(0.0);`).join("");
}

/** A block's 9 words as this thread needs them, read through `word(offset)`. */
function blockWords(word: (offset: string) => string, indent: string): string {
  return `
${indent}let hd = ${word("")};
${indent}let sc = vec3<u32>(${word("1u")}, ${word("2u")}, ${word("3u")});
${indent}let qh = ${word("QH_U32 + l4")};
${indent}let qs0 = ${word("QS_U32 + l4")};
${indent}let qs1 = ${word("QS_U32 + 8u + l4")};
${indent}let qs2 = ${word("QS_U32 + 16u + l4")};
${indent}let qs3 = ${word("QS_U32 + 24u + l4")};`;
}

const PARAMS = /* wgsl */ `struct Params {
  count: u32, k: u32, nb: u32, row0: u32,
  rows: u32, groups_y: u32, _a: u32, table_rows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;`;

// Thread t of a block writes output vec4s t, t + 16, t + 32, t + 48, so each
// store instruction covers contiguous memory: vec4 v holds weights 4v..4v+3
// of sub-block v / 8 = t / 8 + 2s (qs group s, low nibbles for t < 8), qs/qh
// word t % 8 of that group. lookup() range-checks ids on the host; ids that
// reach the GPU out of range through encode() never read outside the table:
// their words come from the chunk's first row, and the first chunk's dispatch
// writes zeros for them. Rows of other chunks are their own dispatch's. Every
// load is issued before the first store.

/** Each thread loads its block's words from the table itself. */
function embeddingWgsl(bpw: number): string {
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${bpw * 16}u;
const BPW = ${bpw}u;

${PARAMS}
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.y + wid.z * p.groups_y;
  let b = wid.x * BPW + lid / 16u;
  if (i >= p.count || b >= p.nb) { return; }
  let t = lid % 16u;
  let l4 = t % 8u;
  let hi = t / 8u;
  let id = ids[i];
  let mine = id < p.table_rows && id >= p.row0 && id - p.row0 < p.rows;
  let base = select(0u, ((id - p.row0) * p.nb + b) * BLOCK_U32, mine);${
    blockWords((o) => `w[base${o ? ` + ${o}` : ""}]`, "  ")
  }
  let out = i * (p.k / 4u) + b * 64u + t;
  if (mine) {
    let d = f16_bits_to_f32(hd & 0xffffu);
    let dmin = f16_bits_to_f32(hd >> 16u);${decodeStores("    ")}
  } else if (id >= p.table_rows && p.row0 == 0u) {${zeroStores("    ")}
  }
}
`;
}

/**
 * The workgroup's blocks of each of its `ipg` ids (contiguous in the table,
 * BLOCK_VEC4 vec4s each, at most one vec4 per thread and id since a block has
 * fewer than its 16 threads) are loaded first, all before the one barrier, into
 * workgroup memory; every read after it is from there.
 */
function stagedWgsl(bpw: number, ipg: number): string {
  const rs = Array.from({ length: ipg }, (_, r) => r);
  const ids = rs.map((r) => /* wgsl */ `
  let id${r} = ids[min(g + ${r}u, p.count - 1u)];
  let mine${r} = id${r} < p.table_rows && id${r} >= p.row0 && id${r} - p.row0 < p.rows;
  var v${r} = vec4<u32>(0u);
  if (lid < avail) { v${r} = wv[select(0u, ((id${r} - p.row0) * p.nb + b0) * BLOCK_VEC4, mine${r}) + lid]; }`)
    .join("");
  const stores = rs.map((r) => /* wgsl */ `
  if (lid < avail) {
    ws[${r * bpw * 44}u + 4u * lid] = v${r}.x;
    ws[${r * bpw * 44}u + 4u * lid + 1u] = v${r}.y;
    ws[${r * bpw * 44}u + 4u * lid + 2u] = v${r}.z;
    ws[${r * bpw * 44}u + 4u * lid + 3u] = v${r}.w;
  }`).join("");
  const rows = rs.map((r) => /* wgsl */ `
  if (g + ${r}u < p.count) {${
    blockWords((o) => `ws[${r * bpw * 44}u + lb * BLOCK_U32${o ? ` + ${o}` : ""}]`, "    ")
  }
    let out = (g + ${r}u) * (p.k / 4u) + b * 64u + t;
    if (mine${r}) {
      let d = f16_bits_to_f32(hd & 0xffffu);
      let dmin = f16_bits_to_f32(hd >> 16u);${decodeStores("      ")}
    } else if (id${r} >= p.table_rows && p.row0 == 0u) {${zeroStores("      ")}
    }
  }`).join("");
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${bpw * 16}u;
const BPW = ${bpw}u;

${PARAMS}
@group(0) @binding(1) var<storage, read> wv: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
var<workgroup> ws: array<u32, ${ipg * bpw * 44}>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = (wid.y + wid.z * p.groups_y) * ${ipg}u; // the group's first id
  let b0 = wid.x * BPW;
  let avail = min(BPW, p.nb - b0) * BLOCK_VEC4;${ids}${stores}
  // Every thread reaches the barrier: the ranges are checked after it.
  workgroupBarrier();
  let b = b0 + lid / 16u;
  if (g >= p.count || b >= p.nb) { return; }
  let t = lid % 16u;
  let l4 = t % 8u;
  let hi = t / 8u;
  let lb = lid / 16u;${rows}
}
`;
}
