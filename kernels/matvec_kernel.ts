/**
 * The Q5_K mat-vec kernel for small M (decode and small batches).
 *
 * Shape (after llama.cpp's Metal kernel_mul_mv_q5_K and Vulkan
 * mul_mat_vec_q5_k): 8 lanes per super-block, each owning one 16-byte qs
 * vector (16 low + 16 high nibbles: 32 weights of two sub-blocks) and the
 * matching 16 qh bytes, read as vec4<u32> together with the 16-byte header
 * (or 16 lanes with 8-byte vectors). A group of lanes walks one set of R rows,
 * S blocks at a time (U of those loaded before any math), for up to C
 * activation columns per pass (larger M walks column groups). The weights
 * meet the activations in one of three ways (matvec_config.ts "combine"):
 * factored, d·(sc·Σq·x) − dmin·(mn·Σx), written here; affine, each weight
 * made d·sc·q − dmin·m once; int8, quantized activations and dot4I8Packed
 * (both in _matvec_bodies.ts). Partial sums meet by subgroupShuffleXor
 * butterflies where the device granted subgroups, then in workgroup memory
 * for what one subgroup does not span. The WGSL is generated fully unrolled:
 * no dynamically indexed local arrays, which some compilers spill to memory.
 *
 * @module
 */

import { cachedWgsl, type KernelSpec } from "./_gpu.ts";
import { Q5K_SCALE_PAIR_WGSL, Q5K_WGSL } from "./_wgsl_q5k.ts";
import { ceilDiv, type ChunkShape, chunkUniforms, foldWorkgroups } from "./dispatch.ts";
import { MATVEC_WORKGROUP, type MatvecConfig } from "./matvec_config.ts";
import { affineBody, emitScales, int8Body, range } from "./_matvec_bodies.ts";

/** Runtime shape of one mat-vec dispatch (one weight chunk). */
export interface MatvecShape extends ChunkShape {
  maxWorkgroupsPerDimension: number;
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
  const biased = cfg.combine === "int8" && cfg.int8Sum === "biased";
  const wide = cfg.combine === "int8" && cfg.planes === 3;
  const key =
    `q5k-matvec:r${cfg.rows}:s${cfg.slots}:${cfg.slotLayout}:${cfg.decode}:${cfg.combine}:t${cfg.lanesPerBlock}:u${cfg.unroll}:c${cfg.cols}:${cfg.reduce}:${
      cfg.bias ? "bias" : "nobias"
    }${biased ? ":biased" : ""}${wide ? ":planes3" : ""}`;
  return {
    name:
      `q5_K matvec (rows=${cfg.rows}, slots=${cfg.slots} ${cfg.slotLayout}, decode=${cfg.decode}, ${cfg.combine}${
        biased ? " biased" : ""
      }${
        wide ? " 24-bit x" : ""
      }, lanes/block=${cfg.lanesPerBlock}, unroll=${cfg.unroll}, cols=${cfg.cols}, ${cfg.reduce} reduce)`,
    key,
    wgsl: cachedWgsl(key, () => matvecWgsl(cfg)),
    workgroups: [gx, gy, colGroups],
    uniforms: chunkUniforms(shape, gx, [shape.k / 4]),
  };
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
  if (int8 && TPB !== 8) {
    throw new RangeError(
      `Cannot build Q5_K mat-vec: lanesPerBlock must be 8 with int8 activations, current value is ${TPB}`,
    );
  }
  const mask = cfg.decode === "mask";
  const unit = cfg.decode === "unit";
  const vec = NW === 4 ? "vec4<u32>" : "vec2<u32>";
  const perBlock = NW === 4 ? 11 : 22; // 176 bytes in vec4 or vec2 units
  const comps = "xyzw".slice(0, NW).split("");
  const rs = range(R);
  const cs = range(C);
  const us = range(U);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  const unpack = mask ? "unpack_q_scaled" : unit ? "unpack_unit" : "unpack_q";

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
          // unit: s = Σ(1 + q/32)·x, so Σq·x = 32·(s − Σx), exactly in real arithmetic.
          const sl = unit ? `(s${r}l - yl)` : `s${r}l`;
          const su = unit ? `(s${r}u - yu)` : `s${r}u`;
          const times32 = unit ? " * 32.0" : "";
          emit(
            `      a${r}_${c} += select(0.0, (dl${id} * ${sl} + du${id} * ${su})${times32} - (ml${id} * yl + mu${id} * yu), ok${u});`,
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
    // 1. The TPB lanes of one super-block (adjacent lanes) combine, by
    // butterflies over W of them where subgroups are narrower than TPB (4
    // lanes under SwiftShader); 2. the P = TPB / W sums of each slot and the
    // S slots of a row set, strided across the workgroup, meet in workgroup memory.
    const W = sg ? Math.min(TPB, cfg.subgroupWidth) : TPB;
    const P = TPB / W;
    if (sg) butterflies(W);
    else tree(TPB, "t", "lid - t");
    if (S * P > 1) {
      partials(
        P > 1 ? `t % ${W}u == 0u` : "t == 0u",
        P > 1 ? `(group * S + slot) * ${P}u + t / ${W}u` : "group * S + slot",
        S * P,
        (vi) => `slot == 0u && t == ${vi % TPB}u`,
      );
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

  return /* wgsl */ `${Q5K_WGSL}${Q5K_SCALE_PAIR_WGSL}
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
      : unit
      ? `// The 5-bit quant of each byte placed in the top mantissa bits of 1.0: 1 + q/32, exact.
fn unpack_unit(v: u32) -> vec4<f32> {
  let m = vec4<u32>(v << 18u, v << 10u, v << 2u, v >> 6u) & vec4<u32>(0x7c0000u);
  return bitcast<vec4<f32>>(m | vec4<u32>(0x3f800000u));
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
      ? `@group(0) @binding(2) var<storage, read> x: array<vec4<u32>>;  // 16 int8 activations${
        cfg.planes === 3 ? " (digit planes of 24-bit ones)" : ""
      }
@group(0) @binding(3) var<storage, read> xs: array<vec2<f32>>; // (scale, d·Σq) per 32
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
