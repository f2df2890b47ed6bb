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

import { envVar } from "./_env.ts";
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
  /** Ids each thread gathers, all its loads issued before its first store (default 1). */
  idsPerThread?: 1 | 2 | 4;
  /**
   * Workgroups along the ids (default: one per id). Fewer make each loop
   * over the ids g, g + W, …, loading the next id's words before storing
   * this one's (one id a thread only).
   */
  idGroups?: number;
}

/** 256 threads: 16 per super-block, 16 super-blocks per workgroup. */
const WG = 256;
/** Super-blocks per workgroup. */
const BPW = WG / 16;

/**
 * Ids a thread gathers: 1, or `KQUANT_EMBEDDING_IDS` (1, 2 or 4) for experiments.
 */
export function idsPerThreadFor(): 1 | 2 | 4 {
  const tuned = Number(envVar("KQUANT_EMBEDDING_IDS") ?? "");
  return tuned === 2 || tuned === 4 ? tuned : 1;
}

/** The embedding kernel for a shape. */
export function embeddingKernel(shape: EmbeddingShape): KernelSpec {
  const nb = shape.k / 256;
  const per = shape.idsPerThread ?? 1;
  const groups = Math.ceil(shape.count / per);
  const loop = shape.idGroups !== undefined && shape.idGroups < groups;
  if (loop && per !== 1) throw new Error("internal: a looping gather takes one id a thread");
  const idGroups = loop ? shape.idGroups! : groups;
  const [gy, gz] = foldWorkgroups(idGroups, shape.maxWorkgroupsPerDimension);
  const key = `q5k-embedding:wg${WG}:16x4:${loop ? "loop" : `ids${per}`}`;
  return {
    name: `q5_K embedding (wg=${WG}${per > 1 ? `, ${per} ids a thread` : ""}${
      loop ? `, ${idGroups} workgroups looping over ids` : ""
    })`,
    key,
    wgsl: cachedWgsl(key, () => loop ? embeddingLoopWgsl() : embeddingWgsl(per)),
    workgroups: [Math.ceil(nb / BPW), gy, gz],
    uniforms: new Uint32Array([
      shape.count,
      shape.k,
      nb,
      shape.row0,
      shape.rows,
      gy,
      idGroups,
      shape.tableRows,
    ]),
  };
}

const PARAMS = /* wgsl */ `
struct Params {
  count: u32, k: u32, nb: u32, row0: u32,
  rows: u32, groups_y: u32, id_groups: u32, table_rows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;`;

/**
 * The gather as a loop over ids g, g + W, … (W = id_groups): the next id's
 * block words are loaded, and the id after it, before this id's stores, so
 * the loads are in flight while the stores go out.
 */
function embeddingLoopWgsl(): string {
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${WG}u;
const BPW = ${BPW}u;
${PARAMS}

struct Words { hd: u32, sc: vec3<u32>, qh: u32, qs: vec4<u32> }

fn id_at(i: u32) -> u32 {
  return select(0u, ids[min(i, p.count - 1u)], i < p.count);
}

// Whether item i (whose id is id) is this chunk's; its block words (block 0 of the
// chunk where it is not, never outside the table).
fn is_mine(i: u32, id: u32) -> bool {
  return i < p.count && id < p.table_rows && id >= p.row0 && id - p.row0 < p.rows;
}
fn words_of(i: u32, id: u32, b: u32, l4: u32) -> Words {
  let base = select(0u, ((id - p.row0) * p.nb + b) * BLOCK_U32, is_mine(i, id));
  let qs = vec4<u32>(
    w[base + QS_U32 + l4], w[base + QS_U32 + 8u + l4],
    w[base + QS_U32 + 16u + l4], w[base + QS_U32 + 24u + l4],
  );
  return Words(w[base], vec3<u32>(w[base + 1u], w[base + 2u], w[base + 3u]), w[base + QH_U32 + l4], qs);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.y + wid.z * p.groups_y;
  let b = wid.x * BPW + lid / 16u;
  if (g >= p.id_groups || b >= p.nb) { return; }
  // The thread's place in a block as in the one-id kernel: vec4s t, t + 16,
  // t + 32, t + 48 of the block's output, qs/qh word t % 8.
  let t = lid % 16u;
  let l4 = t % 8u;
  let hi = t / 8u;
  let step = p.id_groups;
  var i = g;
  var id_cur = id_at(i);
  var words = words_of(i, id_cur, b, l4);
  var id_next = id_at(i + step);
  loop {
    if (i >= p.count) { break; }
    let id = id_cur;
    let cur = words;
    let mine = is_mine(i, id);
    let out = i * (p.k / 4u) + b * 64u + t;
    i += step;
    id_cur = id_next;
    words = words_of(i, id_cur, b, l4);
    id_next = id_at(i + step);
    if (mine) {
      let d = f16_bits_to_f32(cur.hd & 0xffffu);
      let dmin = f16_bits_to_f32(cur.hd >> 16u);
      for (var s = 0u; s < 4u; s++) {
        let j = hi + 2u * s;
        let sm = scale_min(j, cur.sc.x, cur.sc.y, cur.sc.z);
        let d1 = d * f32(sm.x);
        let m1 = dmin * f32(sm.y);
        y[out + 16u * s] = d1 * unpack_q(quants4(cur.qs[s], cur.qh, j)) - m1;
      }
    } else if (id >= p.table_rows && p.row0 == 0u) {
      // Out-of-range ids (through encode()) give zeros from the first chunk's dispatch.
      for (var s = 0u; s < 4u; s++) { y[out + 16u * s] = vec4<f32>(0.0); }
    }
  }
}
`;
}

function embeddingWgsl(per: number): string {
  const us = Array.from({ length: per }, (_, u) => u);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  // Every id's words are loaded (from block 0 of the chunk where the id is
  // not this chunk's) before the first store, so the loads are in flight together.
  for (const u of us) {
    emit(`  let i${u} = g * ${per}u + ${u}u;`);
    emit(`  let id${u} = select(0u, ids[min(i${u}, p.count - 1u)], i${u} < p.count);`);
    emit(`  let mine${u} = i${u} < p.count && id${u} < p.table_rows && id${u} >= p.row0 &&`);
    emit(`    id${u} - p.row0 < p.rows;`);
    emit(`  let base${u} = select(0u, ((id${u} - p.row0) * p.nb + b) * BLOCK_U32, mine${u});`);
    emit(`  let hd${u} = w[base${u}];`);
    emit(`  let sc${u} = vec3<u32>(w[base${u} + 1u], w[base${u} + 2u], w[base${u} + 3u]);`);
    emit(`  let qh${u} = w[base${u} + QH_U32 + l4];`);
    for (const s of [0, 1, 2, 3]) {
      emit(`  let qs${u}_${s} = w[base${u} + QS_U32 + ${8 * s}u + l4];`);
    }
  }
  for (const u of us) {
    emit(`  let out${u} = i${u} * (p.k / 4u) + b * 64u + t;`);
    emit(`  if (mine${u}) {`);
    emit(`    let d = f16_bits_to_f32(hd${u} & 0xffffu);`);
    emit(`    let dmin = f16_bits_to_f32(hd${u} >> 16u);`);
    for (const s of [0, 1, 2, 3]) {
      emit(`    {`);
      emit(`      let j = hi + ${2 * s}u;`);
      emit(`      let sm = scale_min(j, sc${u}.x, sc${u}.y, sc${u}.z);`);
      emit(`      let d1 = d * f32(sm.x);`);
      emit(`      let m1 = dmin * f32(sm.y);`);
      emit(`      y[out${u} + ${16 * s}u] = d1 * unpack_q(quants4(qs${u}_${s}, qh${u}, j)) - m1;`);
      emit(`    }`);
    }
    // lookup() range-checks ids on the host; ids that reach the GPU out of
    // range through encode() never read outside the table: the first chunk's
    // dispatch writes zeros for them. Rows of other chunks are their own dispatch's.
    emit(`  } else if (i${u} < p.count && id${u} >= p.table_rows && p.row0 == 0u) {`);
    for (const s of [0, 1, 2, 3]) emit(`    y[out${u} + ${16 * s}u] = vec4<f32>(0.0);`);
    emit(`  }`);
  }
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${WG}u;
const BPW = ${BPW}u;
${PARAMS}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.y + wid.z * p.groups_y;
  let b = wid.x * BPW + lid / 16u;
  if (g * ${per}u >= p.count || b >= p.nb) { return; }
  // Thread t of a block writes output vec4s t, t + 16, t + 32, t + 48, so each
  // store instruction covers contiguous memory: vec4 v holds weights 4v..4v+3
  // of sub-block v / 8 = t / 8 + 2s (qs group s, low nibbles for t < 8),
  // qs/qh word t % 8 of that group.
  let t = lid % 16u;
  let l4 = t % 8u;
  let hi = t / 8u;
${lines.join("\n")}
}
`;
}
