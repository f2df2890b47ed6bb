/**
 * The tiled Q5_K mat-mat kernel for the opt-in int8 activations (large M).
 *
 * The same tiling as the f32 tiled kernel (TM×TN outputs per workgroup of
 * 256 threads, one 32-weight sub-block per K-step, split-K for small grids),
 * but what goes through workgroup memory is integers: the activations as
 * quantized by `quantize_x_kernel.ts` (8 bits per value, a scale and the exact
 * sum per 32) and the weights' 5-bit quants as bytes with the sub-block's
 * d·scale and dmin·min. Each output's K-step is then 8 `dot4I8Packed` (32
 * products in exact int32) and one scaled add, as llama.cpp's q8_1 paths do:
 *
 *   y += (dx·d·sc)·Σ q·xq − (dmin·m)·Σx
 *
 * The int32 sum becomes a float by the 1.5·2²³ mantissa trick (|Σ| < 2²²),
 * not an int-to-float conversion. A thread holds its TM/16 activation rows
 * (8 words each) in registers and walks its TN/16 weight rows.
 *
 * @module
 */

import { cachedWgsl, type KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import {
  emitRowAndRange,
  emitTileStores,
  emitWeightWords,
  TILE_PROLOGUE,
  TILED_PARAMS,
  tiledBindings,
  tiledGrid,
} from "./_tiled_parts.ts";
import type { TiledConfig, TiledShape } from "./tiled_kernel.ts";

/** u32 words of one 32-value run (sub-block) of quants or quantized activations. */
const RUN_WORDS = 8;
/** vec4<u32> per run, and per row in workgroup memory (one more against bank conflicts). */
const RUN_VEC4 = RUN_WORDS / 4;
const PAD = RUN_VEC4 + 1;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Workgroup memory the int8 tile needs: quants and (scale, offset) pairs of both sides. */
export function tileInt8Bytes(tm: number, tn: number): number {
  return (tm + tn) * (PAD * 16 + 8);
}

/** The int8 tiled kernel for a config (tile, bias, split) and shape. */
export function tiledInt8Kernel(cfg: TiledConfig, shape: TiledShape): KernelSpec {
  const key = `q5k-tiled-int8:m${cfg.tm}:n${cfg.tn}:${cfg.bias ? "bias" : "nobias"}:${
    cfg.split ? "split" : "whole"
  }`;
  return {
    name: `q5_K tiled int8 (${cfg.tm}x${cfg.tn}x32${cfg.split ? ", split-K" : ""})`,
    key,
    wgsl: cachedWgsl(key, () => tiledInt8Wgsl(cfg)),
    ...tiledGrid(cfg, shape),
  };
}

function tiledInt8Wgsl(cfg: TiledConfig): string {
  const { tm: TM, tn: TN } = cfg;
  const RM = TM / 16; // activation rows per thread
  const RN = TN / 16; // weight rows per thread
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  // Staging: TM·2 activation vec4s (one per thread while TM ≤ 128), TM
  // (scale, sum) pairs, and TN rows of weights decoded by 2 threads each.
  const XV = TM * RUN_VEC4;
  for (const i of range(RM)) for (const j of range(RN)) emit(`  var c${i}_${j} = 0.0;`);
  emit(`  var xr: vec4<u32>;`);
  emit(`  var xf: vec2<f32>;`);
  emit(`  var hd: vec4<u32>;`);
  emit(`  var qh: vec4<u32>;`);
  emit(`  var qs: vec4<u32>;`);
  const load = (kb: string, indent: string) => {
    emit(`${indent}if (lid < ${XV}u) {`);
    emit(`${indent}  let row = min(m0 + lid / 2u, p.m - 1u);`);
    emit(`${indent}  xr = xq[row * (p.k / 16u) + (${kb} / 32u) * 2u + (lid % 2u)];`);
    emit(`${indent}}`);
    emit(`${indent}if (lid < TM) {`);
    emit(`${indent}  xf = xsc[min(m0 + lid, p.m - 1u) * (p.k / 32u) + ${kb} / 32u];`);
    emit(`${indent}}`);
    emitWeightWords(kb, indent, emit);
  };
  emitRowAndRange(emit);
  load("k_begin", "  ");
  emit(`  for (var kb = k_begin; kb < k_end; kb += 32u) {`);
  emit(`    if (lid < ${XV}u) { xs[(lid / 2u) * PAD + lid % 2u] = xr; }`);
  emit(`    if (lid < TM) { xss[lid] = xf; }`);
  emit(`    if (lid < 2u * TN) {`);
  emit(`      let j = (kb % BLOCK_WEIGHTS) / 32u;`);
  emit(
    `      ws[wn * PAD + half] = vec4<u32>(quants4(qs.x, qh.x, j), quants4(qs.y, qh.y, j), quants4(qs.z, qh.z, j), quants4(qs.w, qh.w, j));`,
  );
  emit(`      if (half == 0u) {`);
  emit(`        let sm = scale_min(j, hd.y, hd.z, hd.w);`);
  emit(
    `        wss[wn] = vec2<f32>(f16_bits_to_f32(hd.x & 0xffffu) * f32(sm.x), f16_bits_to_f32(hd.x >> 16u) * f32(sm.y));`,
  );
  emit(`      }`);
  emit(`    }`);
  emit(`    workgroupBarrier();`);
  emit(`    if (kb + 32u < k_end) {`);
  load("(kb + 32u)", "      ");
  emit(`    }`);
  for (const i of range(RM)) {
    emit(`    let a${i}l = xs[(tm + ${16 * i}u) * PAD];`);
    emit(`    let a${i}u = xs[(tm + ${16 * i}u) * PAD + 1u];`);
    emit(`    let f${i} = xss[tm + ${16 * i}u];`);
  }
  const dots = (a: string, b: string) =>
    "xyzw".split("").map((c) => `dot4I8Packed(${a}.${c}, ${b}.${c})`).join(" + ");
  for (const j of range(RN)) {
    emit(`    {`);
    emit(`      let bl = ws[(tn + ${16 * j}u) * PAD];`);
    emit(`      let bu = ws[(tn + ${16 * j}u) * PAD + 1u];`);
    emit(`      let g = wss[tn + ${16 * j}u];`);
    for (const i of range(RM)) {
      emit(`      let s${i} = ${dots(`a${i}l`, "bl")} + ${dots(`a${i}u`, "bu")};`);
      // |s| ≤ 32·31·127 < 2^22: exact as 1.5·2^23 + s.
      emit(
        `      c${i}_${j} = fma(f${i}.x * g.x, bitcast<f32>(bitcast<u32>(s${i}) + 0x4b400000u) - 12582912.0, fma(-g.y, f${i}.y, c${i}_${j}));`,
      );
    }
    emit(`    }`);
  }
  emit(`    workgroupBarrier();`);
  emit(`  }`);
  emitTileStores(cfg, RM, RN, emit);

  return /* wgsl */ `${Q5K_WGSL}
const TM = ${TM}u;        // tile edge in M
const TN = ${TN}u;        // tile edge in N
const PAD = ${PAD}u;      // row length in workgroup memory (vec4<u32>), padded
${TILED_PARAMS}
${tiledBindings(true, cfg.bias)}

var<workgroup> xs: array<vec4<u32>, ${TM * PAD}>;   // [m][32 int8]
var<workgroup> xss: array<vec2<f32>, ${TM}>;        // [m] (scale, d·Σq)
var<workgroup> ws: array<vec4<u32>, ${TN * PAD}>;   // [n][32 quants as bytes]
var<workgroup> wss: array<vec2<f32>, ${TN}>;        // [n] (d·scale, dmin·min)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${TILE_PROLOGUE}
${lines.join("\n")}
}
`;
}
