/**
 * The Q5_K mat-vec kernel for small M (decode and small batches).
 *
 * Shape (after llama.cpp's Metal kernel_mul_mv_q5_K and Vulkan
 * mul_mat_vec_q5_k): 8 lanes per super-block, each owning one 16-byte qs
 * vector (16 low + 16 high nibbles: 32 weights of two sub-blocks) and the
 * matching 16 qh bytes, read as vec4<u32> together with the 16-byte header.
 * A group of 8·S lanes walks one set of R rows, S blocks at a time; each lane
 * decodes its R·32 weights once and reuses them for all C activation columns
 * of the pass (larger M walks column groups). The min term is factored out:
 * d·(sc·Σq·x) − dmin·(mn·Σx). Partial sums meet by subgroupShuffleXor
 * butterflies where the device granted subgroups of at least 8·S lanes, else
 * by a tree in workgroup memory. The WGSL is generated fully unrolled: no
 * dynamically indexed local arrays, which some compilers spill to memory.
 *
 * @module
 */

import type { KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import { ceilDiv, foldWorkgroups } from "./dispatch.ts";

/** Compile-time choices of the mat-vec kernel. */
export interface MatvecConfig {
  /** Output rows per lane group (R). */
  rows: number;
  /** Super-blocks a lane group works on at once (S); the group has 8·S lanes. */
  slots: 1 | 2 | 4 | 8;
  /** Activation columns per pass (C), 1..8. */
  cols: number;
  /** How the 8·S lanes of a group combine their sums. */
  reduce: "subgroup" | "workgroup";
  /** Add a bias vector. */
  bias: boolean;
}

/** Runtime shape of one mat-vec dispatch (one weight chunk). */
export interface MatvecShape {
  m: number;
  n: number;
  k: number;
  /** First weight row of the bound chunk, and rows in it. */
  row0: number;
  rows: number;
  maxWorkgroupsPerDimension: number;
}

/** Threads per workgroup. */
export const MATVEC_WORKGROUP = 256;
/** Most activation columns one pass handles. */
export const MATVEC_MAX_COLS = 8;

/**
 * Picks the mat-vec configuration for a batch size on a device: more rows per
 * lane group as M grows (activation loads are shared across rows), 32-lane
 * groups where subgroups are at least that wide.
 *
 * @param m Batch size.
 * @param subgroupMinSize The device's smallest subgroup size, or 0 for no subgroups.
 * @param forceWorkgroup Use the workgroup-memory reduction even with subgroups.
 */
export function matvecConfigFor(
  m: number,
  subgroupMinSize: number,
  forceWorkgroup: boolean,
  bias: boolean,
): MatvecConfig {
  const cols = Math.min(m, MATVEC_MAX_COLS);
  const useSubgroups = !forceWorkgroup && subgroupMinSize >= 8;
  const maxSlots = useSubgroups ? Math.min(4, subgroupMinSize / 8) : 4;
  const tuned = Deno.env.get("KQUANT_MATVEC"); // "R,S" for tuning experiments
  let rows = cols <= 2 ? 1 : 2;
  let slots = maxSlots;
  if (tuned) {
    const [r, s] = tuned.split(",").map(Number);
    if (r >= 1 && r <= 8) rows = r;
    if ([1, 2, 4, 8].includes(s) && s <= maxSlots) slots = s;
  }
  return {
    rows,
    slots: slots as MatvecConfig["slots"],
    cols,
    reduce: useSubgroups ? "subgroup" : "workgroup",
    bias,
  };
}

/** The mat-vec kernel for a config and shape. */
export function matvecKernel(cfg: MatvecConfig, shape: MatvecShape): KernelSpec {
  const lanes = 8 * cfg.slots;
  const rowsPerWorkgroup = (MATVEC_WORKGROUP / lanes) * cfg.rows;
  const [gx, gy] = foldWorkgroups(
    ceilDiv(shape.rows, rowsPerWorkgroup),
    shape.maxWorkgroupsPerDimension,
  );
  const colGroups = ceilDiv(shape.m, cfg.cols);
  if (colGroups > shape.maxWorkgroupsPerDimension) {
    throw new RangeError(
      `Cannot run Q5_K mat-vec: m must be at most ${
        cfg.cols * shape.maxWorkgroupsPerDimension
      }, current value is ${shape.m}`,
    );
  }
  return {
    name:
      `q5_K matvec (rows=${cfg.rows}, slots=${cfg.slots}, cols=${cfg.cols}, ${cfg.reduce} reduce)`,
    key: `q5k-matvec:r${cfg.rows}:s${cfg.slots}:c${cfg.cols}:${cfg.reduce}:${
      cfg.bias ? "bias" : "nobias"
    }`,
    wgsl: matvecWgsl(cfg),
    workgroups: [gx, gy, colGroups],
    uniforms: new Uint32Array([
      shape.m,
      shape.n,
      shape.k,
      shape.k / 256,
      shape.row0,
      shape.rows,
      gx,
      shape.k / 4,
    ]),
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function matvecWgsl(cfg: MatvecConfig): string {
  const { rows: R, cols: C } = cfg;
  const L = 8 * cfg.slots;
  const G = MATVEC_WORKGROUP / L;
  const sg = cfg.reduce === "subgroup";
  const rs = range(R);
  const cs = range(C);
  const is = range(4);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);

  for (const r of rs) {
    emit(`  let row${r} = min(first + ${r}u, p.rows - 1u);`);
  }
  for (const r of rs) for (const c of cs) emit(`  var a${r}_${c} = 0.0;`);
  emit(`  for (var b = slot; b < p.nb; b += S) {`);
  for (const r of rs) {
    emit(`    let base${r} = (row${r} * p.nb + b) * BLOCK_VEC4;`);
    emit(`    let hd${r} = w[base${r}];`);
    emit(`    let qh${r} = w[base${r} + 1u + hf];`);
    emit(`    let qs${r} = w[base${r} + 3u + t];`);
  }
  for (const r of rs) {
    emit(`    let d${r} = f16_bits_to_f32(hd${r}.x & 0xffffu);`);
    emit(`    let dm${r} = f16_bits_to_f32(hd${r}.x >> 16u);`);
    emit(`    let sl${r} = scale_min(j, hd${r}.y, hd${r}.z, hd${r}.w);`);
    emit(`    let su${r} = scale_min(j + 1u, hd${r}.y, hd${r}.z, hd${r}.w);`);
    emit(`    let dl${r} = d${r} * f32(sl${r}.x);`);
    emit(`    let du${r} = d${r} * f32(su${r}.x);`);
    emit(`    let ml${r} = dm${r} * f32(sl${r}.y);`);
    emit(`    let mu${r} = dm${r} * f32(su${r}.y);`);
    for (const i of is) {
      const comp = "xyzw"[i];
      emit(`    let wl${r}_${i} = unpack_q(quants4(qs${r}.${comp}, qh${r}.${comp}, j));`);
      emit(`    let wu${r}_${i} = unpack_q(quants4(qs${r}.${comp}, qh${r}.${comp}, j + 1u));`);
    }
  }
  for (const c of cs) {
    emit(`    {`);
    emit(`      let xb = min(col0 + ${c}u, p.m - 1u) * p.k4 + b * 64u + g * 16u + hf * 4u;`);
    for (const i of is) {
      emit(`      let xl${i} = x[xb + ${i}u];`);
      emit(`      let xu${i} = x[xb + ${8 + i}u];`);
    }
    emit(`      let yl = dot(xl0 + xl1 + xl2 + xl3, ONE4);`);
    emit(`      let yu = dot(xu0 + xu1 + xu2 + xu3, ONE4);`);
    for (const r of rs) {
      emit(
        `      let s${r}l = dot(wl${r}_0, xl0) + dot(wl${r}_1, xl1) + dot(wl${r}_2, xl2) + dot(wl${r}_3, xl3);`,
      );
      emit(
        `      let s${r}u = dot(wu${r}_0, xu0) + dot(wu${r}_1, xu1) + dot(wu${r}_2, xu2) + dot(wu${r}_3, xu3);`,
      );
      emit(
        `      a${r}_${c} += (dl${r} * s${r}l + du${r} * s${r}u) - (ml${r} * yl + mu${r} * yu);`,
      );
    }
    emit(`    }`);
  }
  emit(`  }`);

  // Combine the L lanes of each group; afterwards lane v of the group holds value v.
  const values = rs.flatMap((r) => cs.map((c) => `a${r}_${c}`));
  if (sg) {
    for (const v of values) {
      for (let mask = 1; mask < L; mask <<= 1) {
        emit(`  ${v} += subgroupShuffleXor(${v}, ${mask}u);`);
      }
    }
  } else {
    for (const v of values) {
      emit(`  red[lid] = ${v};`);
      emit(`  workgroupBarrier();`);
      for (let s = L / 2; s >= 1; s >>= 1) {
        emit(`  if (lane < ${s}u) { red[lid] += red[lid + ${s}u]; }`);
        emit(`  workgroupBarrier();`);
      }
      emit(`  ${v} = red[group * L];`);
      emit(`  workgroupBarrier();`);
    }
  }
  values.forEach((v, idx) => {
    const r = Math.floor(idx / C);
    const c = idx % C;
    emit(`  if (lane == ${idx % L}u && first + ${r}u < p.rows && col0 + ${c}u < p.m) {`);
    emit(
      `    y[(col0 + ${c}u) * p.n + p.row0 + first + ${r}u] = ${v}${
        cfg.bias ? ` + bias[p.row0 + first + ${r}u]` : ""
      };`,
    );
    emit(`  }`);
  });

  return /* wgsl */ `${Q5K_WGSL}
const WG = ${MATVEC_WORKGROUP}u;
const L = ${L}u;          // lanes per row group: 8 per super-block
const S = ${cfg.slots}u;  // super-blocks a row group reads at once
const G = ${G}u;          // row groups per workgroup
const R = ${R}u;          // rows per row group
const ONE4 = vec4<f32>(1.0);

struct Params {
  m: u32, n: u32, k: u32, nb: u32,
  row0: u32, rows: u32, groups_x: u32, k4: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${cfg.bias ? "@group(0) @binding(4) var<storage, read> bias: array<f32>;" : ""}
${sg ? "" : "var<workgroup> red: array<f32, WG>;"}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = lid / L;
  let lane = lid % L;
  let t = lane % 8u;       // lane within the super-block
  let slot = lane / 8u;    // which of the S super-blocks
  let g = t / 2u;          // 64-weight chunk of the block
  let hf = t % 2u;         // which 16 of the chunk's 32 qs bytes
  let j = 2u * g;          // low-nibble sub-block; j + 1 is the high one
  // Rows past the end are clamped for loads and skipped for stores, so every
  // lane reaches the reductions.
  let first = ((wid.x + wid.y * p.groups_x) * G + group) * R;
  let col0 = wid.z * ${C}u;
${lines.join("\n")}
}
`;
}
