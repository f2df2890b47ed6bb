/**
 * The Q5_K mat-vec kernel for small M (decode and small batches).
 *
 * Shape (after llama.cpp's Metal kernel_mul_mv_q5_K and Vulkan
 * mul_mat_vec_q5_k): 8 lanes per super-block, each owning one 16-byte qs
 * vector (16 low + 16 high nibbles: 32 weights of two sub-blocks) and the
 * matching 16 qh bytes, read as vec4<u32> together with the 16-byte header
 * (or 16 lanes with 8-byte vectors). A group of lanes walks one set of R rows,
 * S blocks at a time (U of those loaded before any math); each lane
 * decodes its R·32 weights once and reuses them for all C activation columns
 * of the pass (larger M walks column groups). The min term is factored out:
 * d·(sc·Σq·x) − dmin·(mn·Σx). Partial sums meet by subgroupShuffleXor
 * butterflies where the device granted subgroups of at least 8·S lanes, else
 * by a tree in workgroup memory. The WGSL is generated fully unrolled: no
 * dynamically indexed local arrays, which some compilers spill to memory.
 *
 * @module
 */

import { envVar } from "./_env.ts";
import type { KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import { ceilDiv, foldWorkgroups } from "./dispatch.ts";

/** Compile-time choices of the mat-vec kernel. */
export interface MatvecConfig {
  /** Output rows per lane group (R). */
  rows: number;
  /** Lanes per super-block: 8 (each 32 weights, vec4 loads) or 16 (each 16, vec2 loads). */
  lanesPerBlock: 8 | 16;
  /** Super-blocks a lane group works on at once (S, a power of two ≤ 256/lanesPerBlock); the group has lanesPerBlock·S lanes. */
  slots: number;
  /**
   * Where a lane group's S slots sit: `"adjacent"` lanes (a subgroup spans
   * several super-blocks of one row set) or `"strided"` across the workgroup
   * (a subgroup spans several row sets on the same super-block, so its lanes
   * load the same activations and the loads are broadcasts).
   */
  slotLayout: "adjacent" | "strided";
  /**
   * How 5-bit quants become floats: `"shift"` moves each byte down before the
   * 2²³ mantissa trick; `"mask"` keeps byte k in place (worth 256ᵏ) and scales
   * the activation by 2⁻⁸ᵏ instead, which is exact and saves the shifts.
   */
  decode: "shift" | "mask";
  /**
   * How the scales meet the sums: `"factored"` keeps d·sc·Σq·x − dmin·m·Σx per
   * column (fewest operations for one column); `"affine"` turns each weight
   * into d·sc·q − dmin·m once and then does one FMA per column, the better
   * trade for several columns. `"int8"` reads activations quantized to 8
   * bits per 32 (see quantize_x_kernel.ts) and multiplies with
   * `dot4I8Packed`, four weights per instruction (8 lanes per block only).
   */
  combine: "factored" | "affine" | "int8";
  /** Super-blocks each lane loads before computing (U), to keep more loads in flight. */
  unroll: 1 | 2 | 4;
  /** Activation columns per pass (C), 1..8. */
  cols: number;
  /** How the lanes of a group combine their sums. */
  reduce: "subgroup" | "workgroup";
  /** Lanes the subgroup butterfly spans (the device's smallest subgroup); groups wider than this finish in workgroup memory. */
  subgroupWidth: number;
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
 * @param int8 Activations come quantized to 8 bits (the opt-in int8 path).
 */
export function matvecConfigFor(
  m: number,
  k: number,
  subgroupMinSize: number,
  forceWorkgroup: boolean,
  bias: boolean,
  int8 = false,
): MatvecConfig {
  const cols = Math.min(m, MATVEC_MAX_COLS);
  const useSubgroups = !forceWorkgroup && subgroupMinSize >= 8;
  const nb = k / 256;
  // Measured on an H200 (bench/results, README "What made it fast"), GPU kept
  // busy: M = 1 keeps 8 lanes per block, 4 adjacent blocks per lane group, 2
  // rows and the factored min term; several columns gain from turning each
  // weight into d·sc·q − dmin·m once (affine), slots strided across the
  // workgroup and the shift-free decode; 16 lanes per block from 3 columns.
  const one = cols === 1;
  let lanesPerBlock: 8 | 16 = cols <= 2 ? 8 : 16;
  let rows = 2;
  let unroll: 1 | 2 | 4 = 1;
  let slots = Math.min(cols <= 4 ? 4 : 2, Math.max(1, nb));
  let slotLayout: MatvecConfig["slotLayout"] = one ? "adjacent" : "strided";
  let decode: MatvecConfig["decode"] = one ? "shift" : "mask";
  let combine: MatvecConfig["combine"] = one ? "factored" : "affine";
  if (int8) {
    // Measured on an H200: 8 lanes per block, adjacent slots, 4 blocks per
    // lane group (8 when each lane still gets ≥ 4 of a long row); one row for
    // M = 1, two above.
    combine = "int8";
    lanesPerBlock = 8;
    slotLayout = "adjacent";
    rows = one ? 1 : 2;
    slots = Math.min(one && nb >= 32 ? 8 : 4, Math.max(1, nb));
  }
  // "R,S,T,U[,adjacent|strided[,shift|mask[,factored|affine]]]" (rows, slots,
  // lanes per block, unroll, slot layout, decode, combine) for tuning experiments.
  const words = envVar("KQUANT_MATVEC")?.split(",") ?? [];
  const tuned = words.map(Number);
  if (tuned[2] === 8 || tuned[2] === 16) lanesPerBlock = tuned[2];
  if (tuned[0] >= 1 && tuned[0] <= 8) rows = tuned[0];
  if ([1, 2, 4, 8, 16, 32].includes(tuned[1])) slots = tuned[1];
  if (tuned[3] === 1 || tuned[3] === 2 || tuned[3] === 4) unroll = tuned[3];
  if (words[4] === "adjacent" || words[4] === "strided") slotLayout = words[4];
  if (words[5] === "shift" || words[5] === "mask") decode = words[5];
  if (!int8 && (words[6] === "factored" || words[6] === "affine")) combine = words[6];
  // A power of two (lane groups must tile the workgroup), at most the row's blocks.
  slots = 2 ** Math.floor(Math.log2(Math.min(slots, 256 / lanesPerBlock)));
  if (int8 || (useSubgroups && lanesPerBlock > subgroupMinSize)) lanesPerBlock = 8;
  return {
    rows,
    lanesPerBlock,
    slots,
    slotLayout,
    decode,
    combine,
    unroll,
    cols,
    reduce: useSubgroups ? "subgroup" : "workgroup",
    subgroupWidth: useSubgroups ? Math.min(subgroupMinSize, 64) : 1,
    bias,
  };
}

/** The mat-vec kernel for a config and shape. */
export function matvecKernel(cfg: MatvecConfig, shape: MatvecShape): KernelSpec {
  const lanes = cfg.lanesPerBlock * cfg.slots;
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
      `q5_K matvec (rows=${cfg.rows}, slots=${cfg.slots} ${cfg.slotLayout}, decode=${cfg.decode}, ${cfg.combine}, lanes/block=${cfg.lanesPerBlock}, unroll=${cfg.unroll}, cols=${cfg.cols}, ${cfg.reduce} reduce)`,
    key:
      `q5k-matvec:r${cfg.rows}:s${cfg.slots}:${cfg.slotLayout}:${cfg.decode}:${cfg.combine}:t${cfg.lanesPerBlock}:u${cfg.unroll}:c${cfg.cols}:${cfg.reduce}:${
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

/**
 * The scale terms of super-block `id` for this lane's sub-blocks j and j + 1:
 * dl/du = d·sc and ml/mu = dmin·m (f32, llama.cpp's operation order).
 */
function emitScales(id: string, emit: (s: string) => void): void {
  emit(`    let d${id} = f16_bits_to_f32(h${id}.x & 0xffffu);`);
  emit(`    let dm${id} = f16_bits_to_f32(h${id}.x >> 16u);`);
  emit(`    let sl${id} = scale_min(j, h${id}.y, h${id}.z, h${id}.w);`);
  emit(`    let su${id} = scale_min(j + 1u, h${id}.y, h${id}.z, h${id}.w);`);
  emit(`    let dl${id} = d${id} * f32(sl${id}.x);`);
  emit(`    let du${id} = d${id} * f32(su${id}.x);`);
  emit(`    let ml${id} = dm${id} * f32(sl${id}.y);`);
  emit(`    let mu${id} = dm${id} * f32(su${id}.y);`);
}

/**
 * The inner loop of the affine combine: per qs word, every row's 8 weights
 * become d·sc·q − dmin·m (zero for a block past the end), and each column's
 * activations are loaded once for all R rows.
 */
function affineBody(cfg: MatvecConfig, emit: (s: string) => void): void {
  const { rows: R, cols: C, unroll: U } = cfg;
  const NW = 32 / cfg.lanesPerBlock;
  const mask = cfg.decode === "mask";
  const unpack = mask ? "unpack_q_scaled" : "unpack_q";
  const comps = "xyzw".slice(0, NW).split("");
  for (const u of range(U)) {
    for (const r of range(R)) {
      const id = `${u}_${r}`;
      emitScales(id, emit);
      // A block past the end contributes nothing: its weights become zero.
      const vec = (v: string) => `select(vec4<f32>(0.0), ${v}, ok${u})`;
      const scaled = (v: string) => mask ? `${v} * XSCALE` : `vec4<f32>(${v})`;
      emit(`    let dlv${id} = ${vec(scaled(`dl${id}`))};`);
      emit(`    let duv${id} = ${vec(scaled(`du${id}`))};`);
      emit(`    let mlv${id} = ${vec(`vec4<f32>(ml${id})`)};`);
      emit(`    let muv${id} = ${vec(`vec4<f32>(mu${id})`)};`);
    }
    for (const c of range(C)) {
      emit(
        `    let xb${u}_${c} = min(col0 + ${c}u, p.m - 1u) * p.k4 + b${u} * 64u + g * 16u + q * ${NW}u;`,
      );
    }
    comps.forEach((comp, i) => {
      for (const r of range(R)) {
        const id = `${u}_${r}`;
        emit(`    let hb${id}_${i} = qh${id}.${comp} >> j;`);
        emit(
          `    let wl${id}_${i} = fma(${unpack}((qs${id}.${comp} & 0x0f0f0f0fu) | ((hb${id}_${i} << 4u) & 0x10101010u)), dlv${id}, -mlv${id});`,
        );
        emit(
          `    let wu${id}_${i} = fma(${unpack}(((qs${id}.${comp} >> 4u) & 0x0f0f0f0fu) | ((hb${id}_${i} << 3u) & 0x10101010u)), duv${id}, -muv${id});`,
        );
      }
      for (const c of range(C)) {
        emit(`    {`);
        emit(`      let xl = x[xb${u}_${c} + ${i}u];`);
        emit(`      let xu = x[xb${u}_${c} + ${8 + i}u];`);
        for (const r of range(R)) {
          const id = `${u}_${r}`;
          emit(`      a${r}_${c} += dot(wl${id}_${i}, xl) + dot(wu${id}_${i}, xu);`);
        }
        emit(`    }`);
      }
    });
  }
}

/**
 * The inner loop of the int8 combine (8 lanes per block): each lane's 16
 * low-nibble and 16 high-nibble quants meet the matching 16 + 16 quantized
 * activations in 8 `dot4I8Packed`; the sub-block's activation scale and the
 * weight scales are applied once per sum; lane q = 0 of the pair that shares
 * a sub-block subtracts the min term with the sub-block's exact Σx.
 */
function int8Body(cfg: MatvecConfig, emit: (s: string) => void): void {
  const { rows: R, cols: C, unroll: U } = cfg;
  const comps = ["x", "y", "z", "w"];
  for (const u of range(U)) {
    for (const r of range(R)) {
      const id = `${u}_${r}`;
      emitScales(id, emit);
      // Lane q = 0 of the pair sharing a sub-block subtracts its whole min term.
      emit(`    let mlq${id} = select(0.0, ml${id}, q == 0u);`);
      emit(`    let muq${id} = select(0.0, mu${id}, q == 0u);`);
      comps.forEach((comp, i) => {
        emit(`    let hb${id}_${i} = qh${id}.${comp} >> j;`);
        emit(
          `    let ql${id}_${i} = (qs${id}.${comp} & 0x0f0f0f0fu) | ((hb${id}_${i} << 4u) & 0x10101010u);`,
        );
        emit(
          `    let qu${id}_${i} = ((qs${id}.${comp} >> 4u) & 0x0f0f0f0fu) | ((hb${id}_${i} << 3u) & 0x10101010u);`,
        );
      });
    }
    for (const c of range(C)) {
      emit(`    {`);
      emit(`      let col = min(col0 + ${c}u, p.m - 1u);`);
      emit(`      let xi = col * (p.k4 / 4u) + b${u} * 16u + g * 4u + q;`);
      emit(`      let xl = x[xi];`);
      emit(`      let xu = x[xi + 2u];`);
      emit(`      let sx = col * (p.nb * 8u) + b${u} * 8u + j;`);
      emit(`      let fl = xs[sx];`);
      emit(`      let fu = xs[sx + 1u];`);
      for (const r of range(R)) {
        const id = `${u}_${r}`;
        const dots = (side: "l" | "u") =>
          comps.map((comp, i) => `dot4I8Packed(q${side}${id}_${i}, x${side}.${comp})`).join(" + ");
        emit(`      let il${r} = ${dots("l")};`);
        emit(`      let iu${r} = ${dots("u")};`);
        emit(
          `      a${r}_${c} += select(0.0, (dl${id} * fl.x * f32(il${r}) + du${id} * fu.x * f32(iu${r})) - (mlq${id} * fl.y + muq${id} * fu.y), ok${u});`,
        );
      }
      emit(`    }`);
    }
  }
}

function matvecWgsl(cfg: MatvecConfig): string {
  const { rows: R, cols: C, unroll: U } = cfg;
  const TPB = cfg.lanesPerBlock;
  const NW = 32 / TPB; // qs (and qh) words per lane: 4 or 2
  const S = cfg.slots;
  const L = TPB * S;
  const G = MATVEC_WORKGROUP / L;
  const sg = cfg.reduce === "subgroup";
  const strided = cfg.slotLayout === "strided";
  const int8 = cfg.combine === "int8";
  if (int8 && TPB !== 8) throw new RangeError("int8 mat-vec needs 8 lanes per block");
  const mask = cfg.decode === "mask";
  const vec = NW === 4 ? "vec4<u32>" : "vec2<u32>";
  const perBlock = NW === 4 ? 11 : 22; // 176 bytes in vec4 or vec2 units
  const comps = "xyzw".slice(0, NW).split("");
  const rs = range(R);
  const cs = range(C);
  const us = range(U);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  const unpack = mask ? "unpack_q_scaled" : "unpack_q";

  for (const r of rs) emit(`  let row${r} = min(first + ${r}u, p.rows - 1u);`);
  for (const r of rs) for (const c of cs) emit(`  var a${r}_${c} = 0.0;`);
  emit(`  for (var b0 = slot; b0 < p.nb; b0 += S * U) {`);
  for (const u of us) {
    emit(`    let b${u} = min(b0 + ${u}u * S, p.nb - 1u);`);
    emit(`    let ok${u} = b0 + ${u}u * S < p.nb;`);
  }
  // Loads first, for every unrolled block and row, so they are all in flight.
  for (const u of us) {
    for (const r of rs) {
      const id = `${u}_${r}`;
      emit(`    let base${id} = (row${r} * p.nb + b${u}) * ${perBlock}u;`);
      if (NW === 4) {
        emit(`    let h${id} = w[base${id}];`);
      } else {
        emit(`    let h${id} = vec4<u32>(w[base${id}], w[base${id} + 1u]);`);
      }
      emit(`    let qh${id} = w[base${id} + ${NW === 4 ? 1 : 2}u + q];`);
      emit(`    let qs${id} = w[base${id} + ${NW === 4 ? 3 : 6}u + ${NW === 4 ? 2 : 4}u * g + q];`);
    }
  }
  if (cfg.combine === "affine") {
    affineBody(cfg, emit);
  } else if (cfg.combine === "int8") {
    int8Body(cfg, emit);
  } else {
    for (const u of us) {
      for (const r of rs) {
        const id = `${u}_${r}`;
        emitScales(id, emit);
        comps.forEach((comp, i) => {
          // Bit j of each qh byte is the 5th bit of sub-block j, bit j + 1 of j + 1.
          emit(`    let hb${id}_${i} = qh${id}.${comp} >> j;`);
          emit(
            `    let wl${id}_${i} = ${unpack}((qs${id}.${comp} & 0x0f0f0f0fu) | ((hb${id}_${i} << 4u) & 0x10101010u));`,
          );
          emit(
            `    let wu${id}_${i} = ${unpack}(((qs${id}.${comp} >> 4u) & 0x0f0f0f0fu) | ((hb${id}_${i} << 3u) & 0x10101010u));`,
          );
        });
      }
    }
    for (const c of cs) {
      for (const u of us) {
        emit(`    {`);
        emit(
          `      let xb = min(col0 + ${c}u, p.m - 1u) * p.k4 + b${u} * 64u + g * 16u + q * ${NW}u;`,
        );
        for (const i of range(NW)) {
          emit(`      let xl${i} = x[xb + ${i}u];`);
          emit(`      let xu${i} = x[xb + ${8 + i}u];`);
        }
        const sum = (pre: string) => range(NW).map((i) => `${pre}${i}`).join(" + ");
        emit(`      let yl = dot(${sum("xl")}, ONE4);`);
        emit(`      let yu = dot(${sum("xu")}, ONE4);`);
        const xs = (side: string, i: number) => mask ? `x${side}${i} * XSCALE` : `x${side}${i}`;
        if (mask) {
          for (const i of range(NW)) {
            emit(`      let xls${i} = ${xs("l", i)};`);
            emit(`      let xus${i} = ${xs("u", i)};`);
          }
        }
        for (const r of rs) {
          const id = `${u}_${r}`;
          const dots = (side: string) =>
            range(NW).map((i) => `dot(w${side}${id}_${i}, x${side}${mask ? "s" : ""}${i})`).join(
              " + ",
            );
          emit(`      let s${r}l = ${dots("l")};`);
          emit(`      let s${r}u = ${dots("u")};`);
          emit(
            `      a${r}_${c} += select(0.0, (dl${id} * s${r}l + du${id} * s${r}u) - (ml${id} * yl + mu${id} * yu), ok${u});`,
          );
        }
        emit(`    }`);
      }
    }
  }
  emit(`  }`);

  const values = rs.flatMap((r) => cs.map((c) => `a${r}_${c}`));
  const V = values.length;
  let redSize = 0;
  let red2Size = 0;
  let storeLane: (idx: number) => string;
  // Workgroup-memory tree over `width` adjacent lanes (`lane` is the index
  // among them, `head` the invocation index of the first).
  const tree = (width: number, lane: string, head: string) => {
    redSize = MATVEC_WORKGROUP;
    for (const v of values) {
      emit(`  red[lid] = ${v};`);
      emit(`  workgroupBarrier();`);
      for (let h = width / 2; h >= 1; h >>= 1) {
        emit(`  if (${lane} < ${h}u) { red[lid] += red[lid + ${h}u]; }`);
        emit(`  workgroupBarrier();`);
      }
      emit(`  ${v} = red[${head}];`);
      emit(`  workgroupBarrier();`);
    }
  };
  // Second stage: where `writer` holds a partial sum it stores it as partial
  // `at` of its group; `owner(vi)` then adds the group's `n` partials of value vi.
  const partials = (writer: string, at: string, n: number, owner: (vi: number) => string) => {
    red2Size = G * n * V;
    values.forEach((v, vi) => {
      emit(`  if (${writer}) { red2[(${at}) * ${V}u + ${vi}u] = ${v}; }`);
    });
    emit(`  workgroupBarrier();`);
    values.forEach((v, vi) => {
      emit(`  if (${owner(vi)}) {`);
      emit(`    ${v} = 0.0;`);
      emit(
        `    for (var i = 0u; i < ${n}u; i++) { ${v} += red2[(group * ${n}u + i) * ${V}u + ${vi}u]; }`,
      );
      emit(`  }`);
    });
  };
  const butterflies = (width: number) => {
    for (const v of values) {
      for (let m = 1; m < width; m <<= 1) emit(`  ${v} += subgroupShuffleXor(${v}, ${m}u);`);
    }
  };
  if (strided) {
    // 1. The TPB lanes of one super-block (adjacent lanes) combine; 2. the S
    // slots of a row set, strided across the workgroup, meet in workgroup memory.
    if (sg) butterflies(TPB);
    else tree(TPB, "t", "lid - t");
    if (S > 1) {
      partials("t == 0u", "group * S + slot", S, (vi) => `slot == 0u && t == ${vi % TPB}u`);
    }
    storeLane = (idx) => `slot == 0u && t == ${idx % TPB}u`;
  } else {
    // Combine the L adjacent lanes of each group, then lane (v mod L) stores value v.
    const W = Math.min(L, cfg.subgroupWidth);
    const P = L / W; // partial sums per group left after the butterflies
    if (sg) {
      butterflies(W);
      if (P > 1) {
        partials(
          `lane % ${W}u == 0u`,
          `group * ${P}u + lane / ${W}u`,
          P,
          (vi) => `lane == ${vi % L}u`,
        );
      }
    } else {
      tree(L, "lane", "group * L");
    }
    storeLane = (idx) => `lane == ${idx % L}u`;
  }
  values.forEach((v, idx) => {
    const r = Math.floor(idx / C);
    const c = idx % C;
    emit(`  if (${storeLane(idx)} && first + ${r}u < p.rows && col0 + ${c}u < p.m) {`);
    emit(
      `    y[(col0 + ${c}u) * p.n + p.row0 + first + ${r}u] = ${v}${
        cfg.bias ? ` + bias[p.row0 + first + ${r}u]` : ""
      };`,
    );
    emit(`  }`);
  });
  const lanes = strided
    ? `  let t = lid % TPB;         // lane within the super-block
  let group = (lid / TPB) % G; // row set
  let slot = lid / (TPB * G);  // which of the S super-blocks`
    : `  let group = lid / L;
  let lane = lid % L;
  let t = lane % TPB;        // lane within the super-block
  let slot = lane / TPB;     // which of the S super-blocks`;

  return /* wgsl */ `${Q5K_WGSL}
const WG = ${MATVEC_WORKGROUP}u;
const TPB = ${TPB}u;      // lanes per super-block
const L = ${L}u;          // lanes per row group
const S = ${S}u;  // super-blocks a row group reads at once
const U = ${U}u;          // super-blocks each lane loads per step
const G = ${G}u;          // row groups per workgroup
const R = ${R}u;          // rows per row group
const ONE4 = vec4<f32>(1.0);
${
    mask
      ? `// Byte k of a quant word kept in place is worth 256^k (byte 3 is moved to
// byte 2, 65536): activations are scaled back by exact powers of two.
const XSCALE = vec4<f32>(1.0, 0.00390625, 0.0000152587890625, 0.0000152587890625);
fn unpack_q_scaled(v: u32) -> vec4<f32> {
  let m = vec4<u32>(v & 0xffu, v & 0xff00u, v & 0xff0000u, (v >> 8u) & 0xff0000u);
  return bitcast<vec4<f32>>(m | vec4<u32>(0x4b000000u)) - vec4<f32>(8388608.0);
}`
      : ""
  }

struct Params {
  m: u32, n: u32, k: u32, nb: u32,
  row0: u32, rows: u32, groups_x: u32, k4: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<${vec}>;
${
    int8
      ? `@group(0) @binding(2) var<storage, read> x: array<vec4<u32>>;  // 16 int8 activations
@group(0) @binding(3) var<storage, read> xs: array<vec2<f32>>; // (scale, exact sum) per 32
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
${cfg.bias ? "@group(0) @binding(5) var<storage, read> bias: array<f32>;" : ""}`
      : `@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${cfg.bias ? "@group(0) @binding(4) var<storage, read> bias: array<f32>;" : ""}`
  }
${redSize ? `var<workgroup> red: array<f32, ${redSize}>;` : ""}
${red2Size ? `var<workgroup> red2: array<f32, ${red2Size}>;` : ""}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${lanes}
  let g = t / (TPB / 4u);    // 64-weight chunk of the block
  let q = t % (TPB / 4u);    // which ${4 * NW} of the chunk's 32 qs bytes
  let j = 2u * g;            // low-nibble sub-block; j + 1 is the high one
  // Rows past the end are clamped for loads and skipped for stores, so every
  // lane reaches the reductions.
  let first = ((wid.x + wid.y * p.groups_x) * G + group) * R;
  let col0 = wid.z * ${C}u;
${lines.join("\n")}
}
`;
}
