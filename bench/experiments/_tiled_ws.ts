// The K-major tiled kernel with its work split between warps (for
// comparison; not in the library, which held it as a tiledKernel option until
// this file moved here): 256 consumer threads compute a 128×128 tile's
// 8×8 outputs each from one stage of workgroup memory while 64 producer
// threads load and decode the next K-step into the other stage, one barrier
// a step. The one-workgroup-an-SM tiled kernel otherwise pays its loads,
// decode and barriers between its FMAs (bench/experiments/README.md "Where the time goes"); here
// they run beside them, as in warp-specialized GEMMs. Two stages of K-steps of
// 16 (half a sub-block) fit the 32 KB of one stage of 32. Activations must be
// transposed ([k][ceil(m / 4) vec4s], `transpose_x_kernel.ts`). The stage
// indices are constants: the loop takes two steps an iteration. Timed 20–25%
// slower than the library's form at M = 128…512 with 64 producers, 9–12%
// with 128 (bench/experiments/README.md "Tried and not kept in this release").

import { cachedWgsl, type KernelSpec } from "../../kernels/_gpu.ts";
import { Q5K_WGSL } from "../../kernels/_wgsl_q5k.ts";
import {
  subBlockScales,
  TILE_PROLOGUE,
  TILED_PARAMS,
  tiledBindings,
  tiledGrid,
  type TileOutput,
} from "../../kernels/_tiled_parts.ts";
import { emitOuterStores } from "../../kernels/_tiled_outer.ts";
import type { TiledConfig, TiledShape } from "../../kernels/tiled_kernel.ts";

/** Options of the warp-specialized kernel: the library's K-major tile on transposed x, and its producers. */
export type WsConfig = TiledConfig & {
  /** Producer threads (default 64, two warps; 128 puts one producer warp beside each of an SM's four schedulers' consumers). */
  producers?: 64 | 128;
};

/**
 * The warp-specialized kernel for a config and shape (128×128 tiles on
 * transposed x only): K-steps of 16 in two stages of workgroup memory,
 * `producers` threads loading and decoding beside 256 computing.
 */
export function wsTiledKernel(cfg: WsConfig, shape: TiledShape): KernelSpec {
  // Only what the WGSL depends on: the tile (128×128, checked), bias, split,
  // vec4 stores and producers.
  const v4 = cfg.vec4Out && !cfg.split ? ":v4" : "";
  const key = `q5k-tiled-ws:m${cfg.tm}:n${cfg.tn}:${cfg.bias ? "bias" : "nobias"}:${
    cfg.split ? "split" : "whole"
  }${v4}:p${cfg.producers ?? 64}`;
  return {
    name: `q5_K tiled (${cfg.tm}x${cfg.tn}x16, warp-specialized${cfg.split ? ", split-K" : ""})`,
    key,
    wgsl: cachedWgsl(key, () => tiledWsWgsl(cfg)),
    ...tiledGrid(cfg, shape),
  };
}

/** Threads of the warp-specialized kernel: 256 consumers and its producers. */
export function wsThreads(producers: 64 | 128 = 64): number {
  return 256 + producers;
}

const BK = 16;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The WGSL of the warp-specialized K-major kernel (128×128 tiles, transposed f32 activations). */
export function tiledWsWgsl(
  cfg: TileOutput & { vec4Out?: boolean; xT?: boolean; producers?: 64 | 128 },
): string {
  if (cfg.tm !== 128 || cfg.tn !== 128 || !cfg.xT) {
    throw new Error(`internal: warp-specialized tile ${cfg.tm}x${cfg.tn}, xT ${cfg.xT}`);
  }
  // 64 producers are two warps, on two of an SM's four schedulers (whose
  // consumers then wait for them at each barrier); 128 put one on each.
  const P = cfg.producers ?? 64;
  const R = 128 / P; // weight rows a producer decodes per step
  const X = 512 / P; // activation vec4s a producer stages per step
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  for (const i of range(8)) for (const g of range(2)) emit(`  var c${i}_${g} = vec4<f32>(0.0);`);
  // Producer `pid` loads weight rows pid, pid + P, … (16 weights each, the
  // step's half of its sub-block) and X of the step's 512 activation vec4s,
  // all loads first, then decodes and stores into stage `st`.
  const produce = (t: string, st: number, indent: string) => {
    const e = (s: string) => emit(`${indent}${s}`);
    e(`{`);
    e(`  let kb = k_begin + (${t}) * BK;`);
    e(`  let j = (kb % BLOCK_WEIGHTS) / 32u;`);
    e(`  let h = (kb % 32u) / 16u;`);
    for (const r of range(R)) {
      e(`  let base${r} = (min(n0 + pid + ${
        P * r
      }u, p.rows - 1u) * p.nb + kb / BLOCK_WEIGHTS) * BLOCK_VEC4;`);
      e(`  let hd${r} = w[base${r}];`);
      e(`  let qh${r} = w[base${r} + 1u + h];`);
      e(`  let qs${r} = w[base${r} + 3u + 2u * (j / 2u) + h];`);
    }
    for (const x of range(X)) {
      e(`  let mq${x} = m0 / 4u + (pid + ${P * x}u) % 32u;`);
      e(
        `  let xv${x} = select(vec4<f32>(0.0), x[(kb + (pid + ${
          P * x
        }u) / 32u) * mt4 + min(mq${x}, mt4 - 1u)], mq${x} < mt4);`,
      );
    }
    for (const r of range(R)) {
      e(`  {`);
      e(`    let wn = pid + ${P * r}u;`);
      for (const line of subBlockScales(`hd${r}`)) e(`    ${line}`);
      for (const i of range(4)) {
        const c = "xyzw"[i];
        e(`    {`);
        e(`      let v = d1 * unpack_q(quants4(qs${r}.${c}, qh${r}.${c}, j)) - m1;`);
        for (const q of range(4)) {
          e(`      ws${st}[${4 * i + q}u][wn / 4u][wn % 4u] = v.${"xyzw"[q]};`);
        }
        e(`    }`);
      }
      e(`  }`);
    }
    for (const x of range(X)) {
      e(`  xs${st}[(pid + ${P * x}u) / 32u][(pid + ${P * x}u) % 32u] = xv${x};`);
    }
    e(`}`);
  };
  const compute = (st: number, indent: string) => {
    for (const kk of range(BK)) {
      emit(`${indent}{`);
      for (const g of range(2)) emit(`${indent}  let a${g} = xs${st}[${kk}u][tm + ${16 * g}u];`);
      for (const g of range(2)) emit(`${indent}  let b${g} = ws${st}[${kk}u][tn + ${16 * g}u];`);
      for (const i of range(8)) {
        for (const g of range(2)) {
          emit(
            `${indent}  c${i}_${g} = fma(vec4<f32>(a${i >> 2}.${
              "xyzw"[i % 4]
            }), b${g}, c${i}_${g});`,
          );
        }
      }
      emit(`${indent}}`);
    }
  };
  emit(`  let k_begin = wid.z * p.k_split;`);
  emit(`  let k_end = min(p.k, k_begin + p.k_split);`);
  emit(`  let steps = (k_end - k_begin) / BK;  // a multiple of 16: slices are whole blocks`);
  emit(`  let mt4 = (p.m + 3u) / 4u;`);
  emit(`  let pid = lid - 256u;  // producers only`);
  emit(`  if (lid >= 256u) {`);
  produce("0u", 0, "    ");
  emit(`  }`);
  emit(`  workgroupBarrier();`);
  emit(`  for (var s = 0u; s < steps; s += 2u) {`);
  for (const st of [0, 1]) {
    emit(`    if (lid >= 256u) {`);
    emit(`      if (s + ${st + 1}u < steps) {`);
    produce(`s + ${st + 1}u`, 1 - st, "        ");
    emit(`      }`);
    emit(`    } else {`);
    compute(st, "      ");
    emit(`    }`);
    emit(`    workgroupBarrier();`);
  }
  emit(`  }`);
  emit(`  if (lid < 256u) {`);
  const vecStores = emitOuterStores(cfg, 8, 8, 16, (s) => emit(`  ${s}`));
  emit(`  }`);

  return /* wgsl */ `${Q5K_WGSL}
const TM = 128u;          // tile edge in M
const TN = 128u;          // tile edge in N
const BK = ${BK}u;          // K-step: half a sub-block
${TILED_PARAMS}
${tiledBindings(false, cfg.bias, vecStores)}

var<workgroup> xs0: array<array<vec4<f32>, 32>, BK>;  // stage 0: [k][m / 4]
var<workgroup> ws0: array<array<vec4<f32>, 32>, BK>;  // stage 0: [k][n / 4]
var<workgroup> xs1: array<array<vec4<f32>, 32>, BK>;  // stage 1
var<workgroup> ws1: array<array<vec4<f32>, 32>, BK>;

@compute @workgroup_size(${wsThreads(P)})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${TILE_PROLOGUE}
${lines.join("\n")}
}
`;
}
