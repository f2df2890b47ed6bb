/**
 * The tiled Q5_K mat-mat kernel for large M (prefill).
 *
 * Each workgroup of 256 threads computes a TM×TN tile of y (M × N; 128×128 for
 * large M, TM = 16, 32 or 64 by 128 for smaller M so little of the tile is
 * padding; 64×64 where workgroup memory is small). Per K-step of one 32-weight sub-block it
 * stages TM×32 activations and dequantizes TN×32 weights into workgroup memory,
 * both K-contiguous (rows padded to 9 vec4s against bank conflicts): each
 * decoding thread reads one vec4 of qs and one of qh (16 weights, four per u32
 * word) plus the block header and applies llama.cpp's f32 operation order.
 * Every thread then accumulates a (TM/16)×(TN/16) register tile in f32, vec4
 * products chained as FMAs, 16 FMAs per workgroup-memory load, while the next
 * step's global loads are in flight (double buffering through registers). The
 * workgroup arrays are arrays of rows read at constant K offsets, so each load's
 * bounds clamp (WebGPU clamps every dynamic index) is on a row the thread keeps
 * for the whole kernel. Grids short of 768 workgroups split K (a second kernel
 * adds the slices); the K-major form on NVIDIA splits K into the fewest whole
 * waves of one workgroup an SM instead (`splitsForWaves`), and takes 256×128
 * tiles, 16×8 outputs a thread, where M fills an even count of 128-row tiles
 * and the device gives their 48 KiB (`tallTiles`). The WGSL is generated
 * unrolled.
 *
 * @module
 */

import { envVar } from "./_env.ts";
import { cachedWgsl, type KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import { tiledOuterWgsl } from "./_tiled_outer.ts";
import { ceilDiv, type ChunkShape, foldWorkgroups } from "./dispatch.ts";
import {
  emitDecodeHeader,
  emitRowAndRange,
  emitStepLoop,
  emitTileStores,
  emitWeightWords,
  partStride,
  TILE_PROLOGUE,
  TILED_PARAMS,
  tiledBindings,
  tiledGrid,
} from "./_tiled_parts.ts";

/** Tile edges: M (activation rows) and N (weight rows). */
export interface TileShape {
  /** 256 only K-major (16×8 outputs a thread, 48 KiB; `tallTiles`). */
  tm: 16 | 32 | 64 | 128 | 256;
  /** 256 only K-major (`tallTiles`). */
  tn: 64 | 128 | 256;
}

/** Compile-time choices of the tiled kernel. */
export interface TiledConfig extends TileShape {
  /** Whether rows in workgroup memory are padded (9 vec4s, fewer bank conflicts) or not (8). */
  padded: boolean;
  /** Add a bias vector (never with splits: the reduction adds it). */
  bias: boolean;
  /** Write partial sums of K-slices to a [split][m][n] scratch buffer instead of y. */
  split: boolean;
  /** Load the next K-step into registers while this one computes (more registers; default on). */
  prefetch?: boolean;
  /**
   * Workgroup memory K-contiguous with vec4 dot products (`rows`, default) or
   * K-major with outer products (`outer`, `_tiled_outer.ts`; TM and TN of 64
   * or 128).
   */
  layout?: "rows" | "outer";
  /** Outer layout only: x is given transposed, [k][m] (rows padded to a multiple of 4). */
  xT?: boolean;
  /** Outer layout only: a weight row's two decoding threads TN lanes apart instead of adjacent. */
  apart?: boolean;
  /**
   * Outer layout without split only: store y a vec4 of 4 columns at a time
   * (N and every weight chunk's first row must be multiples of 4).
   */
  vec4Out?: boolean;
}

/** Runtime shape of one tiled dispatch (one weight chunk). */
export interface TiledShape extends ChunkShape {
  maxWorkgroupsPerDimension: number;
  /** K-slices (1 = no split); each slice covers `ceil(nb / splits)` super-blocks. */
  splits: number;
}

const BK = 32;

/**
 * How many K-slices give the GPU enough workgroups: the fewest that make at
 * least 768, of equal length where one divides the block count (else up to
 * 16). Small grids (4096×14336 at M ≤ 128: 32 tiles) leave most cores idle,
 * and a grid of a few waves loses its last, partly filled one (14336×4096 at
 * M = 512: 448 tiles, 3.4 waves if one workgroup fits per SM of an H200), so K is
 * cut into slices whose partial sums a second kernel adds. The count is one
 * that slices of `ceil(nb / count)` blocks produce exactly, as the grid and
 * the reduction both assume.
 */
export function splitsFor(tiles: number, nb: number): number {
  const tuned = tunedSplits(nb);
  if (tuned) return tuned;
  // H200, bench/experiments/tiled_layouts.ts: 14336×4096 at M = 512 took
  // 2366 µs whole, 2115 in 2 slices, 2161 in 4; at M = 128 632 µs in 4
  // slices, 589 in 8, 633 in 16; 4096×14336 at M = 256 1154 µs in 12 slices
  // (11 of 5 blocks, one of 1), 1100 in 14 of 4.
  const TARGET = 768;
  if (tiles >= TARGET) return 1;
  const counts = splitCounts(nb);
  const enough = counts.filter((z) => tiles * z >= TARGET);
  return enough.find((z) => nb % z === 0) ?? enough[0] ?? counts[counts.length - 1];
}

/**
 * The K-split of a grid whose workgroups run `slots` at a time, one wave
 * after another: the count (of those {@linkcode splitsFor} considers, up to
 * 16) that minimises whole waves × (blocks a slice + a quarter block that
 * each workgroup costs besides), the fewest slices among equals (each adds
 * partial sums to write and add; the quarter block fits 16 slices of
 * 14336×4096 at M = 512 taking 1794.1 µs against 1595.7 for 2). For the
 * K-major tiled kernel on NVIDIA (one workgroup an SM, 132 SMs). H200, `bench --op linear
 * --variant tiled` with KQUANT_SPLITS=1…16 against the 768-workgroup rule
 * (µs, 14336×4096 / 4096×14336 / 4096×4096): M = 128 450.0 / 482.1 / 158.9
 * under that rule, here 8, 4 and 4 slices: 450.1 / 428.8 / 140.3 (7 slices
 * of 4096×14336, two waves, 420.9); M = 256 818.1 / 834.7 / 295.8, here 4,
 * 2, 2: 817.8 / 808.0 / 252.3; M = 512 1594.9 / 1604.7 / 512.1, here 2, 1, 1:
 * 1595.7 / 1590.7 / 465.0.
 */
export function splitsForWaves(tiles: number, nb: number, slots: number): number {
  const tuned = tunedSplits(nb);
  if (tuned) return tuned;
  const counts = splitCounts(nb);
  const cost = (z: number) => Math.ceil((tiles * z) / slots) * (Math.ceil(nb / z) + 0.25);
  return counts.reduce((best, z) => (cost(z) < cost(best) ? z : best), counts[0]);
}

/** The exact slice counts of `nb` blocks asking for 1…16 slices, ascending. */
function splitCounts(nb: number): number[] {
  return [...new Set(Array.from({ length: Math.min(16, nb) }, (_, i) => exactSplits(nb, i + 1)))];
}

/** The exact count `KQUANT_SPLITS` asks for (experiments), or 0 when unset. */
function tunedSplits(nb: number): number {
  const tuned = Number(envVar("KQUANT_SPLITS") ?? "");
  return tuned >= 1 ? exactSplits(nb, Math.min(tuned, nb)) : 0;
}

/** How many slices asking for `z` of `nb` blocks gives: slices of ceil(nb / z) blocks. */
export function exactSplits(nb: number, z: number): number {
  return Math.ceil(nb / Math.ceil(nb / z));
}

/**
 * Whether the K-major tiled kernel takes 256-row tiles at batch size `m`:
 * from `fromM` (0: never), where they pad M to no more rows than 128-row
 * tiles do (an even count of 128-row tiles: M = 129…256, 385…512, …).
 */
export function tallTiles(m: number, fromM: number): boolean {
  return fromM > 0 && m >= fromM && ceilDiv(m, 128) % 2 === 0;
}

/** Workgroup memory a tile needs: activations and weights, 32 (or 36 padded) bytes per K-vec4 row. */
export function tileBytes(shape: TileShape, padded: boolean): number {
  return (shape.tm + shape.tn) * (BK / 4 + (padded ? 1 : 0)) * 16;
}

const TILE_TM = [16, 32, 64, 128] as const;
const TILE_TN = [64, 128] as const;

/**
 * The tile (and padding) for batch size `m` within the device's workgroup
 * memory: the M edge the smallest of 16, 32, 64 that holds M (a 128-row tile
 * at M = 16 multiplies mostly padding), 128 above; N edge 128 (64 where
 * memory is short). `KQUANT_TILE=TMxTN` overrides it for experiments.
 */
export function tileFor(
  maxWorkgroupStorage: number,
  m = 512,
): TileShape & { padded: boolean } {
  const [ftm, ftn] = (envVar("KQUANT_TILE") ?? "").split("x").map(Number);
  const tm0 = TILE_TM.find((t) => t === ftm) ?? TILE_TM.find((t) => m <= t) ?? 128;
  const tns = TILE_TN.includes(ftn as 64) ? [ftn as 64 | 128] : [128, 64] as const;
  for (const tm of tm0 === 128 ? [128, 64] as const : [tm0]) {
    for (const tn of tns) {
      for (const padded of [true, false]) {
        if (maxWorkgroupStorage >= tileBytes({ tm, tn }, padded)) return { tm, tn, padded };
      }
    }
  }
  return { tm: Math.min(tm0, 64) as 16 | 32 | 64, tn: 64, padded: false };
}

/** The tiled kernel for a config and shape. */
export function tiledKernel(config: TiledConfig, shape: TiledShape): KernelSpec {
  const cfg = {
    ...config,
    prefetch: config.prefetch ?? true,
    layout: config.layout ?? "rows",
  };
  const key = [
    cfg.layout === "outer" ? "q5k-tiled-outer" : "q5k-tiled",
    cfg.prefetch ? "prefetch" : "noprefetch",
    "rows",
    `m${cfg.tm}`,
    `n${cfg.tn}`,
    cfg.padded ? "pad" : "nopad",
    cfg.bias ? "bias" : "nobias",
    cfg.split ? "split" : "whole",
    ...(config.xT ? ["xT"] : []),
    ...(config.apart ? ["apart"] : []),
    ...(config.vec4Out && !config.split ? ["v4"] : []),
  ].join(":");
  return {
    name: `q5_K tiled (${cfg.tm}x${cfg.tn}x${BK}${cfg.split ? ", split-K" : ""})`,
    key,
    wgsl: cachedWgsl(
      key,
      () => cfg.layout !== "outer" ? tiledWgsl(cfg) : tiledOuterWgsl(cfg),
    ),
    ...tiledGrid(cfg, shape),
  };
}

/**
 * The row stride of a tiled kernel's split-K partial sums: N, or N rounded
 * up to 4 for the K-major layout's vec4 stores.
 */
export function splitStride(config: Pick<TiledConfig, "layout">, n: number): number {
  return config.layout === "outer" ? partStride(n) : n;
}

/**
 * Adds the K-slices' partial sums (and the bias) into y; the partials are
 * [split][m][stride] (stride default n, see {@linkcode splitStride}).
 */
export function splitReduceKernel(
  m: number,
  n: number,
  splits: number,
  bias: boolean,
  maxWorkgroupsPerDimension: number,
  stride = n,
): KernelSpec {
  const [gx, gy] = foldWorkgroups(ceilDiv(m * n, 256), maxWorkgroupsPerDimension);
  return {
    name: "q5_K tiled split-K reduce",
    key: `q5k-split-reduce:${bias ? "bias" : "nobias"}`,
    wgsl: /* wgsl */ `
struct Params { total: u32, n: u32, splits: u32, groups_x: u32, m: u32, stride: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${bias ? "@group(0) @binding(3) var<storage, read> bias: array<f32>;" : ""}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * p.groups_x) * 256u + lid;
  if (i >= p.total) { return; }
  let row = i / p.n;
  let at = row * p.stride + (i - row * p.n);
  var s = 0.0;
  for (var k = 0u; k < p.splits; k++) { s += part[k * p.m * p.stride + at]; }
  y[i] = s${bias ? " + bias[i % p.n]" : ""};
}`,
    workgroups: [gx, gy, 1],
    uniforms: new Uint32Array([m * n, n, splits, gx, m, stride, 0, 0]),
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function tiledWgsl(cfg: TiledConfig): string {
  const { tm: TM, tn: TN } = cfg;
  const KQ = BK / 4; // vec4s of K per tile row
  const PAD = KQ + (cfg.padded ? 1 : 0);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  const ms = range(TM / 16); // outputs per thread along M
  const ns = range(TN / 16); // and along N
  const E = Math.max(1, (TM * KQ) / 256); // activation vec4s each thread stages per step
  const few = TM * KQ < 256; // fewer activation vec4s than threads: some threads stage none
  const at = (array: string, row: string, k: string) => `${array}[${row}][${k}]`;
  for (const i of ms) for (const jj of ns) emit(`  var c${i}_${jj} = 0.0;`);
  // Double buffering (with `prefetch`): the next K-step's activations and weight
  // words are loaded into registers while the current step computes from
  // workgroup memory; without it each step loads its own at its start.
  const prefetch = cfg.prefetch !== false;
  if (prefetch) { for (const e of range(E)) emit(`  var xr${e}: vec4<f32>;`); }
  emit(`  var hd: vec4<u32>;`);
  emit(`  var qh: vec4<u32>;`);
  emit(`  var qs: vec4<u32>;`);
  const loadX = (kb: string, indent: string, to: (e: number) => string) => {
    for (const e of range(E)) {
      // 8 lanes read one row's 128 contiguous bytes.
      emit(`${indent}{`);
      emit(`${indent}  let mm = (lid + ${256 * e}u) / KQ;`);
      emit(`${indent}  let row = m0 + mm;`);
      emit(
        `${indent}  ${
          to(e)
        } = select(vec4<f32>(0.0), x[min(row, p.m - 1u) * k4 + ${kb} / 4u + (lid % KQ)], row < p.m${
          few ? ` && lid < ${TM * KQ}u` : ""
        });`,
      );
      emit(`${indent}}`);
    }
  };
  const load = (kb: string, indent: string) => {
    if (prefetch) loadX(kb, indent, (e) => `xr${e}`);
    emitWeightWords(kb, indent, emit);
  };
  emitRowAndRange(emit);
  const stage = () => {
    // Rows in workgroup memory are padded to PAD vec4s so the compute loop's
    // reads hit distinct banks.
    const xsAt = (e: number) => at("xs", `(lid + ${256 * e}u) / KQ`, "lid % KQ");
    if (!prefetch) {
      if (few) emit(`    if (lid < ${TM * KQ}u) {`);
      loadX("kb", "    ", xsAt);
      if (few) emit(`    }`);
    }
    for (const e of prefetch ? range(E) : []) {
      const store = `${xsAt(e)} = xr${e};`;
      emit(few ? `    if (lid < ${TM * KQ}u) { ${store} }` : `    ${store}`);
    }
    // Two threads per weight row decode the sub-block with llama.cpp's
    // d1 = d·sc and m1 = dmin·m.
    emitDecodeHeader(emit);
    for (const i of range(4)) {
      const comp = "xyzw"[i];
      emit(
        `      ${
          at("ws", "wn", `4u * half + ${i}u`)
        } = d1 * unpack_q(quants4(qs.${comp}, qh.${comp}, j)) - m1;`,
      );
    }
    emit(`    }`);
  };
  const step = (kq: string) => {
    for (const jj of ns) emit(`      let b${jj} = ${at("ws", `tn + ${16 * jj}u`, kq)};`);
    for (const i of ms) {
      emit(`      let a${i} = ${at("xs", `tm + ${16 * i}u`, kq)};`);
      // Four chained FMAs, not c += dot(a, b): the dot's add is one more
      // instruction per 4 FMAs (H200: 6–8% faster at M ≥ 128, bench/experiments/tiled_layouts.ts).
      for (const jj of ns) {
        const f = (c: string, acc: string) => `fma(a${i}.${c}, b${jj}.${c}, ${acc})`;
        emit(`      c${i}_${jj} = ${f("w", f("z", f("y", f("x", `c${i}_${jj}`))))};`);
      }
    }
  };
  // Workgroup memory as rows at constant K offsets, the K loop unrolled (one
  // flat array indexed in a K loop took 2112 µs against 1756 at M = 512 on
  // an H200; removed in 0.2.0, docs/performance.md).
  const compute = () => {
    for (const kq of range(KQ)) {
      emit(`    {`);
      step(`${kq}u`);
      emit(`    }`);
    }
  };
  emitStepLoop(cfg.prefetch !== false, load, stage, compute, emit);
  emitTileStores(cfg, TM / 16, TN / 16, emit);

  return /* wgsl */ `${Q5K_WGSL}
const TM = ${TM}u;        // tile edge in M
const TN = ${TN}u;        // tile edge in N
const BK = ${BK}u;        // K-step: one sub-block
const KQ = ${KQ}u;        // vec4s of K per tile row
const PAD = ${PAD}u;   // row length in workgroup memory (vec4s), padded where room allows
const WG = 256u;          // 16 x 16 threads
${TILED_PARAMS}
${tiledBindings(false, cfg.bias)}

var<workgroup> xs: array<array<vec4<f32>, PAD>, TM>;  // [m][k / 4]
var<workgroup> ws: array<array<vec4<f32>, PAD>, TN>;  // [n][k / 4]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${TILE_PROLOGUE}
  let k4 = p.k / 4u;
${lines.join("\n")}
}
`;
}
