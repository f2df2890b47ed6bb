// Pieces the f32 and int8 tiled kernels share: the grid and uniforms, the
// loads of a weight row's block words, the write-out of a thread's register
// tile, and the uniform struct with the tile prologue.

import type { KernelSpec } from "./_gpu.ts";
import { ceilDiv, type ChunkShape, chunkUniforms, foldWorkgroups } from "./dispatch.ts";

/** The tile and output choices both tiled kernels take. */
export interface TileOutput {
  tm: number;
  tn: number;
  bias: boolean;
  split: boolean;
}

/**
 * The row stride of the K-major tiled kernel's split-K partial sums, which it
 * stores a vec4 of 4 adjacent columns at a time: N rounded up to 4.
 */
export function partStride(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** The grid (N tiles fastest, K-slices in z) and uniforms of a tiled dispatch. */
export function tiledGrid(
  cfg: TileOutput,
  shape: ChunkShape & { maxWorkgroupsPerDimension: number; splits: number },
): Pick<KernelSpec, "workgroups" | "uniforms"> {
  const tilesN = ceilDiv(shape.rows, cfg.tn);
  const tilesM = ceilDiv(shape.m, cfg.tm);
  const [gx, gy] = foldWorkgroups(tilesN * tilesM, shape.maxWorkgroupsPerDimension);
  const nb = shape.k / 256;
  const perSplit = ceilDiv(nb, shape.splits);
  if (ceilDiv(nb, perSplit) !== shape.splits) {
    // The reduction adds `splits` slices: every one must be written.
    throw new Error(`internal: ${shape.splits} K-slices of ${nb} blocks are uneven`);
  }
  return {
    workgroups: [gx, gy, shape.splits],
    uniforms: chunkUniforms(shape, gx, [tilesN, perSplit * 256, partStride(shape.n), 0, 0]),
  };
}

/**
 * Emits the loads of the K-step at `kb` for the weight rows: two threads per
 * row (`wn`, `half`), each the block header `hd` and its half of the
 * sub-block's `qh` and `qs` words.
 */
export function emitWeightWords(kb: string, indent: string, emit: (s: string) => void): void {
  emit(`${indent}if (lid < 2u * TN) {`);
  emit(`${indent}  let j = (${kb} % BLOCK_WEIGHTS) / 32u;`);
  emit(`${indent}  let base = (wrow * p.nb + ${kb} / BLOCK_WEIGHTS) * BLOCK_VEC4;`);
  emit(`${indent}  hd = w[base];`);
  emit(`${indent}  qh = w[base + 1u + half];`);
  emit(`${indent}  qs = w[base + 3u + 2u * (j / 2u) + half];`);
  emit(`${indent}}`);
}

/** Where a thread's register tile lies: its outputs' names, rows and columns. */
export interface TilePlaces {
  value: (i: number, j: number) => string;
  row: (i: number) => string;
  col: (j: number) => string;
}

/** The rows layout's places: `c{i}_{j}` at rows `tm + 16i` and columns `tn + 16j`. */
const STRIDED: TilePlaces = {
  value: (i, j) => `c${i}_${j}`,
  row: (i) => `tm + ${16 * i}u`,
  col: (j) => `tn + ${16 * j}u`,
};

/** Emits the stores of a thread's register tile (RM×RN, by default 16 apart) to y or the split-K partials. */
export function emitTileStores(
  cfg: TileOutput,
  rm: number,
  rn: number,
  emit: (s: string) => void,
  at: TilePlaces = STRIDED,
): void {
  for (let i = 0; i < rm; i++) {
    emit(`  {`);
    emit(`    let row = m0 + ${at.row(i)};`);
    emit(`    if (row < p.m) {`);
    for (let j = 0; j < rn; j++) {
      emit(`      if (n0 + ${at.col(j)} < p.rows) {`);
      emit(`        let n = p.row0 + n0 + ${at.col(j)};`);
      const to = cfg.split ? "(wid.z * p.m + row) * p.n + n" : "row * p.n + n";
      emit(`        y[${to}] = ${at.value(i, j)}${cfg.bias ? " + bias[n]" : ""};`);
      emit(`      }`);
    }
    emit(`    }`);
    emit(`  }`);
  }
}

/**
 * The bindings of the tiled and lane-per-row kernels: uniforms, weights, the
 * activations (f32, or int8 with their per-32 (scale, sum) pairs), y and an
 * optional bias.
 */
export function tiledBindings(int8: boolean, bias: boolean, vec4Y = false): string {
  const x = int8
    ? `@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> xsc: array<vec2<f32>>;`
    : "@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;";
  const y = int8 ? 4 : 3;
  return `@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
${x}
@group(0) @binding(${y}) var<storage, read_write> y: array<${vec4Y ? "vec4<f32>" : "f32"}>;
${bias ? `@group(0) @binding(${y + 1}) var<storage, read> bias: array<f32>;` : ""}`;
}

/** The uniform struct both tiled kernels read (chunkUniforms' words, then tiles_n and k_split). */
export const TILED_PARAMS = /* wgsl */ `
struct Params {
  m: u32, n: u32, k: u32, nb: u32,
  row0: u32, rows: u32, groups_x: u32, tiles_n: u32,
  k_split: u32, part_stride: u32, _b: u32, _c: u32,
}`;

/** The start of main: the workgroup's tile (n0, m0) and the thread's place in it (tn, tm). */
export const TILE_PROLOGUE = /* wgsl */ `
  let tile = wid.x + wid.y * p.groups_x;
  if (tile >= p.tiles_n * ((p.m + TM - 1u) / TM)) { return; }
  let n0 = (tile % p.tiles_n) * TN;
  let m0 = (tile / p.tiles_n) * TM;
  let tn = lid % 16u;
  let tm = lid / 16u;`;

/**
 * Emits the thread's weight row (two threads a row: adjacent lanes, or with
 * `apart` lanes TN apart, so a subgroup's lanes hold different rows) and the
 * workgroup's K range.
 */
export function emitRowAndRange(emit: (s: string) => void, apart = false): void {
  emit(apart ? `  let wn = lid % TN;` : `  let wn = lid / 2u;`);
  emit(apart ? `  let half = lid / TN;` : `  let half = lid % 2u;`);
  emit(`  let wrow = min(n0 + wn, p.rows - 1u);`);
  emit(`  let k_begin = wid.z * p.k_split;`);
  emit(`  let k_end = min(p.k, k_begin + p.k_split);`);
}

/**
 * Emits the opening of a weight row's decode (two threads a row): the
 * sub-block `j` of step `kb` and llama.cpp's d1 = d·sc and m1 = dmin·m. The
 * caller closes the brace.
 */
export function emitDecodeHeader(emit: (s: string) => void): void {
  emit(`    if (lid < 2u * TN) {`);
  emit(`      let j = (kb % BLOCK_WEIGHTS) / 32u;`);
  for (const line of subBlockScales("hd")) emit(`      ${line}`);
}

/**
 * The statements that make sub-block `j`'s d1 = d·sc and m1 = dmin·m
 * (llama.cpp's order) from the block header vec4 named `hd`.
 */
export function subBlockScales(hd: string): string[] {
  return [
    `let sm = scale_min(j, ${hd}.y, ${hd}.z, ${hd}.w);`,
    `let d1 = f16_bits_to_f32(${hd}.x & 0xffffu) * f32(sm.x);`,
    `let m1 = f16_bits_to_f32(${hd}.x >> 16u) * f32(sm.y);`,
  ];
}

/**
 * Emits the K loop: with `prefetch`, the first step's loads before the loop
 * and the next step's after the barrier (in flight during the math); without
 * it, each step's loads at its start. Then `stage` (registers → workgroup
 * memory), a barrier, `compute`, a barrier.
 */
export function emitStepLoop(
  prefetch: boolean,
  load: (kb: string, indent: string) => void,
  stage: () => void,
  compute: () => void,
  emit: (s: string) => void,
): void {
  if (prefetch) load("k_begin", "  ");
  emit(`  for (var kb = k_begin; kb < k_end; kb += BK) {`);
  if (!prefetch) load("kb", "    ");
  stage();
  emit(`    workgroupBarrier();`);
  if (prefetch) {
    emit(`    if (kb + BK < k_end) {`);
    load("(kb + BK)", "      ");
    emit(`    }`);
  }
  compute();
  emit(`    workgroupBarrier();`);
  emit(`  }`);
}
