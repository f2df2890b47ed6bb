/**
 * The tiled Q5_K mat-mat kernel for the opt-in f16 products (large M).
 *
 * The f32 tiled kernel's tiling (TM×TN outputs per workgroup of 256 threads,
 * one 32-weight sub-block per K-step, register prefetch of the next step,
 * split-K for small grids), but what goes through workgroup memory is halves:
 * the activations rounded to f16 and the weights decoded in f32 with
 * llama.cpp's operation order (d·sc·q − dmin·m) and then rounded to f16, eight
 * to a `vec4<u32>` row entry. Each output's K-step is 16 `vec2<f16>` FMAs
 * (two products each; on NVIDIA one packed instruction, twice the f32 FMA
 * rate) into a half-precision pair, which is then added to the output's f32
 * sum, so no f16 sum is longer than 16 products. Needs `shader-f16`.
 *
 * Accuracy: a half's 11-bit significand rounds the activations, the weights
 * and each of the 16 accumulations (NMSE about 5e-7 against the f64
 * reference for random data, where the f32 path reaches 1e-13); activations
 * must stay within f16's range (|x| < 65504).
 *
 * @module
 */

import { cachedWgsl, type KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import {
  emitDecodeHeader,
  emitRowAndRange,
  emitStepLoop,
  emitTileStores,
  emitWeightWords,
  TILE_PROLOGUE,
  TILED_PARAMS,
  tiledBindings,
  tiledGrid,
} from "./_tiled_parts.ts";
import type { TiledConfig, TiledShape } from "./tiled_kernel.ts";

/** K of one step: one sub-block. */
const BK = 32;
/** `vec4<f16>` per row of a step. */
const KQ = BK / 4;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Compile-time choices of the f16 tiled kernel. */
export interface TiledF16Config extends TiledConfig {
  /**
   * How a step's half-precision pair joins the f32 sum: `"f32"` (default)
   * converts both halves, `"f16"` adds them in f16 first (one conversion, one
   * more rounding).
   */
  flush?: "f32" | "f16";
}

/** Workgroup memory the f16 tile needs: KQ (+1 padded) `vec4<f16>` per row of both sides. */
export function tileF16Bytes(tm: number, tn: number, padded: boolean): number {
  return (tm + tn) * (KQ + (padded ? 1 : 0)) * 8;
}

/** The f16 tiled kernel for a config (tile, bias, split) and shape. */
export function tiledF16Kernel(config: TiledF16Config, shape: TiledShape): KernelSpec {
  const cfg = { ...config, prefetch: config.prefetch ?? true, flush: config.flush ?? "f32" };
  const key = [
    "q5k-tiled-f16",
    cfg.prefetch ? "prefetch" : "noprefetch",
    `flush-${cfg.flush}`,
    `m${cfg.tm}`,
    `n${cfg.tn}`,
    cfg.padded ? "pad" : "nopad",
    cfg.bias ? "bias" : "nobias",
    cfg.split ? "split" : "whole",
  ].join(":");
  return {
    name: `q5_K tiled f16 (${cfg.tm}x${cfg.tn}x${BK}${cfg.split ? ", split-K" : ""})`,
    key,
    wgsl: cachedWgsl(key, () => tiledF16Wgsl(cfg)),
    ...tiledGrid(cfg, shape),
  };
}

function tiledF16Wgsl(cfg: Required<Pick<TiledF16Config, "flush" | "prefetch">> & TiledConfig) {
  const { tm: TM, tn: TN } = cfg;
  const PAD = KQ + (cfg.padded ? 1 : 0);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  const ms = range(TM / 16);
  const ns = range(TN / 16);
  const E = Math.max(1, (TM * KQ) / 256); // activation vec4s each thread stages per step
  const few = TM * KQ < 256;
  for (const i of ms) for (const j of ns) emit(`  var c${i}_${j} = 0.0;`);
  for (const e of range(E)) emit(`  var xr${e}: vec4<f32>;`);
  emit(`  var hd: vec4<u32>;`);
  emit(`  var qh: vec4<u32>;`);
  emit(`  var qs: vec4<u32>;`);
  const load = (kb: string, indent: string) => {
    for (const e of range(E)) {
      // 8 lanes read one row's 128 contiguous bytes.
      emit(`${indent}{`);
      emit(`${indent}  let row = m0 + (lid + ${256 * e}u) / KQ;`);
      emit(
        `${indent}  xr${e} = select(vec4<f32>(0.0), x[min(row, p.m - 1u) * k4 + ${kb} / 4u + (lid % KQ)], row < p.m${
          few ? ` && lid < ${TM * KQ}u` : ""
        });`,
      );
      emit(`${indent}}`);
    }
    emitWeightWords(kb, indent, emit);
  };
  emitRowAndRange(emit);
  const stage = () => {
    for (const e of range(E)) {
      const store = `xs[(lid + ${256 * e}u) / KQ][lid % KQ] = vec4<f16>(xr${e});`;
      emit(few ? `    if (lid < ${TM * KQ}u) { ${store} }` : `    ${store}`);
    }
    // Two threads a weight row, each 16 weights decoded in f32, then halves.
    emitDecodeHeader(emit);
    for (const i of range(4)) {
      emit(
        `      ws[wn][4u * half + ${i}u] = vec4<f16>(d1 * unpack_q(quants4(qs.${"xyzw"[i]}, qh.${
          "xyzw"[i]
        }, j)) - m1);`,
      );
    }
    emit(`    }`);
  };
  const compute = () => {
    // Each output's pair of halves: 16 products a lane over the step, then into f32.
    for (const i of ms) for (const j of ns) emit(`    var h${i}_${j} = vec2<f16>();`);
    for (const kq of range(KQ)) {
      emit(`    {`);
      for (const j of ns) emit(`      let b${j} = ws[tn + ${16 * j}u][${kq}u];`);
      for (const i of ms) {
        emit(`      let a${i} = xs[tm + ${16 * i}u][${kq}u];`);
        for (const j of ns) {
          emit(
            `      h${i}_${j} = fma(a${i}.zw, b${j}.zw, fma(a${i}.xy, b${j}.xy, h${i}_${j}));`,
          );
        }
      }
      emit(`    }`);
    }
    for (const i of ms) {
      for (const j of ns) {
        emit(
          cfg.flush === "f32"
            ? `    { let s = vec2<f32>(h${i}_${j}); c${i}_${j} += s.x + s.y; }`
            : `    c${i}_${j} += f32(h${i}_${j}.x + h${i}_${j}.y);`,
        );
      }
    }
  };
  emitStepLoop(cfg.prefetch, load, stage, compute, emit);
  emitTileStores(cfg, TM / 16, TN / 16, emit);

  return /* wgsl */ `enable f16;
${Q5K_WGSL}
const TM = ${TM}u;        // tile edge in M
const TN = ${TN}u;        // tile edge in N
const BK = ${BK}u;        // K-step: one sub-block
const KQ = ${KQ}u;        // vec4<f16> of K per tile row
const PAD = ${PAD}u;      // row length in workgroup memory, padded where room allows
const WG = 256u;          // 16 x 16 threads
${TILED_PARAMS}
${tiledBindings(false, cfg.bias)}

var<workgroup> xs: array<array<vec4<f16>, PAD>, TM>;  // [m][k / 4]
var<workgroup> ws: array<array<vec4<f16>, PAD>, TN>;  // [n][k / 4]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${TILE_PROLOGUE}
  let k4 = p.k / 4u;
${lines.join("\n")}
}
`;
}
