/**
 * The lane-per-row Q5_K kernel for small batches above the mat-vec (on NVIDIA
 * M = 3…56 and 65…84, in a shared pass from 2, with int8 activations 9…256; see crossover.ts).
 *
 * The tiled kernel stages dequantized weights in workgroup memory, and every
 * thread reads back the weights of its tile columns: at a 16-row tile each
 * weight read from workgroup memory feeds one FMA per thread, so small M is
 * bound by workgroup-memory bandwidth, not by FMAs. Here each lane owns R
 * whole weight rows instead: it reads its rows' block words itself, decodes
 * four weights at a time into registers (llama.cpp's operation order) and
 * multiplies them with the MC activation columns of its column group, which
 * the workgroup stages in workgroup memory one super-block at a time and every
 * lane reads at the same address (a broadcast). A weight is decoded once per
 * column group and never written to workgroup memory. K is split into slices
 * of whole super-blocks (a second kernel adds them) so that enough lanes run.
 * The loop over a block's 8 sub-blocks stays a loop; the words and columns
 * inside are unrolled, so each workgroup load's bounds clamp is one per
 * sub-block. With int8 activations (the opt-in path) the staged columns are
 * the quantized activations and each sub-block meets a column in 8
 * `dot4I8Packed` (see rowLaneInt8Wgsl).
 *
 * @module
 */

import { envVar } from "./_env.ts";
import { cachedWgsl, type KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import { ceilDiv } from "./dispatch.ts";
import { TILED_PARAMS, tiledBindings, tiledGrid } from "./_tiled_parts.ts";
import { exactSplits, type TiledShape } from "./tiled_kernel.ts";

/** Workgroup memory per activation column of the int8 form: 256 int8 and 8 (scale, sum) pairs. */
const INT8_COLUMN_BYTES = 256 + 8 * 8;

/** Compile-time choices of the lane-per-row kernel. */
export interface RowLaneConfig {
  /**
   * Activation columns per dispatch column group (accumulators per row):
   * any count from 1 to 32 (f32) or 64 (int8); see {@linkcode columnGroup}.
   */
  mc: number;
  /** Weight rows per lane (each activation load feeds 4·R FMAs). */
  r: 1 | 2 | 4;
  /** Lanes per workgroup. */
  wg: 64 | 128 | 256;
  /** Add a bias vector (never with splits: the reduction adds it). */
  bias: boolean;
  /** Write partial sums of K-slices to a [split][m][n] scratch buffer instead of y. */
  split: boolean;
  /** Lanes the K-splits aim for (default: 128 Ki up to 8 columns, 64 Ki above). */
  lanes?: number;
  /** Loop over the block's 4 sub-block pairs, the pair unrolled (else over its 8 sub-blocks). */
  pairs?: boolean;
  /**
   * Activations quantized to 8 bits per 32 (quantize_x_kernel.ts, the opt-in
   * int8 path): each sub-block's 32 quants meet a column's 32 int8 values in
   * 8 `dot4I8Packed`, scaled once per sub-block (always loops over sub-blocks).
   */
  int8?: boolean;
}

/**
 * The column group (activation columns a dispatch column group computes, MC)
 * for batch size `m` with at most `cap` columns a group: the fewest groups
 * that hold M, split as evenly as they go, so no group computes padding
 * columns but the last group's one or so (M = 40 of f32, cap 32: two groups
 * of 20 instead of 32 and a ragged 8 that still costs 32). H200, one run,
 * `KQUANT_ROWLANE=,,,,,exact64` (exactly M up to the cap, the working tree
 * of b816998) against the power-of-two groups, µs per pass, 14336×4096 /
 * 4096×14336: f32 M = 12 105.1 / 109.3 → 92.2 / 96.0, M = 20 181.9 / 184.9
 * → 124.2 / 127.0, M = 24 182.8 / 185.2 → 150.5 / 153.2; int8 M = 12 71.1 /
 * 75.8 → 68.9 / 73.9, M = 20 101.7 / 104.8 → 91.2 / 93.0, M = 40 176.4 /
 * 177.7 → 138.8 / 140.2, M = 48 177.4 / 178.4 → 151.8 / 153.0. Before that
 * (adb0eaa) f32 up to 8 columns only: M = 3 52.6 → 48.6 µs, M = 5 71.6 →
 * 57.5, M = 6 71.9 → 65.2, M = 7 72.2 → 69.6 (14336×4096).
 *
 * `mode` (the sixth word of KQUANT_ROWLANE, for comparisons): `"pow2"` the
 * smallest power of two ≥ 2 that holds M (or the cap's); `"exact8"` the
 * previous release's rule (exactly M for f32 up to 8, else pow2); `"exact"`
 * exactly M up to the cap and the cap's power of two above; anything else
 * the even split above.
 */
export function columnGroup(m: number, cap: number, mode: string, int8: boolean): number {
  const pow2 = () => {
    let c = 2;
    while (c < m && c * 2 <= cap) c *= 2;
    return c;
  };
  if (mode === "pow2") return pow2();
  if (mode === "exact8") return !int8 && m <= Math.min(8, cap) ? m : pow2();
  if (m <= cap) return m;
  if (mode === "exact") return pow2();
  return Math.ceil(m / Math.ceil(m / cap));
}

/**
 * The lane-per-row config for batch size `m` within the device's workgroup
 * memory (MC KiB of activations): column groups of exactly M up to 32
 * columns, above that the fewest groups of at most 32, split evenly
 * ({@linkcode columnGroup}); two rows a lane (one up to 5 columns); up to 8
 * columns 128 lanes looping over sub-block pairs, above 256 lanes looping over
 * sub-blocks. Measured on an H200 with
 * `bench/experiments/small_batch.ts` as it was on the working tree just
 * before this kernel was committed (its K-splits then came from an earlier
 * rule; 14336×4096, 4096×14336, 4096×4096): at M = 8 128 lanes over pairs took
 * 72.4, 80.0, 33.3 µs against 81.9, 82.0, 34.3 for 256 lanes over
 * sub-blocks; at M = 16 256 lanes over sub-blocks 105.8, 110.0, 41.6 against
 * 119.6, 123.9, 42.6; 4 rows a lane and 64-lane workgroups were slower
 * wherever they were tried except 64 lanes at M = 3 (within 1%). With
 * `int8` the columns are quantized activations (320 bytes each in workgroup
 * memory), groups of up to 64 of them, and the lanes and K-splits are the
 * int8 form's own (below).
 */
export function rowLaneConfigFor(
  m: number,
  maxWorkgroupStorage: number,
  bias: boolean,
  split: boolean,
  int8 = false,
): RowLaneConfig {
  // "R,WG,LANES[,MC[,_[,GROUPS]]]" (rows a lane, lanes per workgroup, lanes
  // the K-splits aim for, widest column group, a word no longer read (staged
  // weights until 0.2.0), how M is cut into column groups) for tuning experiments.
  const words = (envVar("KQUANT_ROWLANE") ?? "").split(",");
  const [r, wg, lanes, widest] = words.map(Number);
  const perColumn = int8 ? INT8_COLUMN_BYTES : 1024;
  // At most 32 f32 columns (128 accumulators a lane with two rows; 64 would
  // need 64 KiB) or 64 int8 ones (20 KiB), within workgroup memory.
  const cap = Math.min(
    int8 ? 64 : 32,
    Math.floor(maxWorkgroupStorage / perColumn),
    widest > 0 ? widest : Infinity,
  );
  const mc = columnGroup(m, Math.max(1, cap), words[5] ?? "", int8);
  const narrow = mc <= 8;
  // int8, measured on an H200 (README "What made it fast"): 128 lanes, two
  // rows a lane and K-splits for 64 Ki lanes up to 16 columns, one row a lane
  // and 128 Ki lanes for 32, one row and 64 Ki lanes for 64 (M = 128: 335 →
  // 310 µs for 14336×4096, 335 → 289 for 4096×14336, against two groups of
  // 32; M = 64 within 1%).
  const cfg: RowLaneConfig = int8
    ? {
      mc,
      r: mc <= 16 ? 2 : 1,
      wg: 128,
      lanes: mc === 32 ? 131072 : 65536,
      bias,
      split,
      int8,
    }
    // f32 up to 5 columns: one row a lane (H200, the README command's
    // shapes at M = 3 and 4, `KQUANT_ROWLANE=1,128,131072,32`: 14336×4096
    // 58.8 → 52.5 µs, 4096×14336 67.0 → 56.6, 4096×4096 29.0 → 27.0; with
    // exact groups at M = 5 57.5 / 62.0 / 28.4 against 63.0 / 71.9 / 30.3 for
    // two rows; at 6 columns and above two rows lead in a shared pass, 48.9
    // against 58.9 µs at M = 6 of 14336×4096, and at 8 columns one pass at a
    // time too, 72.5 against 79.2).
    : { mc, r: mc <= 5 ? 1 : 2, wg: narrow ? 128 : 256, pairs: narrow, bias, split };
  if (r === 1 || r === 2 || r === 4) cfg.r = r;
  if (wg === 64 || wg === 128 || wg === 256) cfg.wg = wg;
  if (lanes >= 1024) cfg.lanes = lanes;
  // Each lane loads its own rows' words: staging a block's weights in
  // workgroup memory was slower wherever measured (H200: M = 4 of 14336×4096
  // 52.5 → 72.1 µs with one row a lane, int8 M = 64 179 → 184) and was
  // removed in 0.2.0 (docs/performance.md, "Tried and not kept").
  return cfg;
}

/**
 * K-slices for a lane-per-row grid of `groups` workgroups over `nb`
 * super-blocks: the fewest equal slices (any count up to `nb`) that give
 * about 128 Ki lanes for up to 8 columns, 64 Ki above (H200: 14336×4096 at
 * M = 16 took 105.8 µs in 8 slices of 28 workgroups, 111.3 in 16; at M = 8
 * 72.4 µs in 16 slices of 56, 76.1 in 8; the experiment runs of
 * {@linkcode rowLaneConfigFor}).
 */
export function rowLaneSplits(
  cfg: Pick<RowLaneConfig, "mc" | "wg" | "lanes">,
  groups: number,
  nb: number,
): number {
  const lanes = cfg.lanes ?? (cfg.mc <= 8 ? 131072 : 65536);
  const want = Math.ceil(lanes / (cfg.wg * groups));
  return exactSplits(nb, Math.min(nb, Math.max(1, want)));
}

/** The workgroups (row groups × column groups) of a lane-per-row dispatch before any split. */
export function rowLaneGroups(
  cfg: Pick<RowLaneConfig, "mc" | "r" | "wg">,
  m: number,
  rows: number,
): number {
  return ceilDiv(rows, cfg.wg * cfg.r) * ceilDiv(m, cfg.mc);
}

/** The lane-per-row kernel for a config and shape. */
export function rowLaneKernel(cfg: RowLaneConfig, shape: TiledShape): KernelSpec {
  const key = [
    "q5k-rowlane",
    `mc${cfg.mc}`,
    `r${cfg.r}`,
    `wg${cfg.wg}`,
    cfg.bias ? "bias" : "nobias",
    cfg.split ? "split" : "whole",
    cfg.int8 ? "int8" : cfg.pairs ? "pairs" : "subblocks",
  ].join(":");
  return {
    name: `q5_K lane per row${cfg.int8 ? " int8" : ""} (${cfg.mc} columns, ${cfg.r} rows a lane${
      cfg.split ? ", split-K" : ""
    })`,
    key,
    wgsl: cachedWgsl(key, () => cfg.int8 ? rowLaneInt8Wgsl(cfg) : rowLaneWgsl(cfg)),
    ...tiledGrid({ tm: cfg.mc, tn: cfg.wg * cfg.r, bias: cfg.bias, split: cfg.split }, shape),
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function rowLaneWgsl(cfg: RowLaneConfig): string {
  const { mc: MC, r: R, wg: WG } = cfg;
  const rs = range(R);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  // The column group's activations for this block: MC rows of 64 vec4s.
  for (const e of range(Math.ceil((MC * 64) / WG))) {
    // Only the last round can run past the MC·64 vec4s (MC·64 < WG, or not a multiple of it).
    const partial = (e + 1) * WG > MC * 64;
    const lane = e === 0 ? "lid" : `lid + ${e * WG}u`;
    emit(partial ? `    if (${lane} < ${MC * 64}u) {` : `    {`);
    emit(`      let v = lid + ${e * WG}u;`);
    emit(`      let mm = v / 64u;`);
    emit(`      let row = m0 + mm;`);
    emit(
      `      xs[mm][(v % 64u) / 8u][v % 8u] = select(vec4<f32>(0.0), x[min(row, p.m - 1u) * k4 + blk * 64u + v % 64u], row < p.m);`,
    );
    emit(`    }`);
  }
  emit(`    workgroupBarrier();`);
  emitHeaders(cfg, emit);
  const words = (j: string, indent: string) => {
    for (const r of rs) {
      // qh: 32 bytes, bit j of byte l for weight l; qs: 32 bytes per sub-block
      // pair, low nibbles for even j.
      emit(`${indent}let qh${r}a = ${word(r, "1u")};`);
      emit(`${indent}let qh${r}b = ${word(r, "2u")};`);
      emit(`${indent}let qs${r}a = ${word(r, `3u + 2u * (${j} / 2u)`)};`);
      emit(`${indent}let qs${r}b = ${word(r, `4u + 2u * (${j} / 2u)`)};`);
    }
  };
  const subBlock = (j: string, indent: string) => {
    for (const r of rs) {
      emit(`${indent}let sm${r} = scale_min(${j}, hd${r}.y, hd${r}.z, hd${r}.w);`);
      emit(`${indent}let d1_${r} = d${r} * f32(sm${r}.x);`);
      emit(`${indent}let m1_${r} = dm${r} * f32(sm${r}.y);`);
    }
    for (const i of range(8)) {
      const half = i < 4 ? "a" : "b";
      const comp = "xyzw"[i % 4];
      emit(`${indent}{`);
      for (const r of rs) {
        emit(
          `${indent}  let w${r} = d1_${r} * unpack_q(quants4(qs${r}${half}.${comp}, qh${r}${half}.${comp}, ${j})) - m1_${r};`,
        );
      }
      for (const m of range(MC)) {
        emit(`${indent}  {`);
        emit(`${indent}    let a = xs[${m}][${j}][${i}];`);
        for (const r of rs) {
          const f = (c: string, acc: string) => `fma(a.${c}, w${r}.${c}, ${acc})`;
          emit(`${indent}    c${r}_${m} = ${f("w", f("z", f("y", f("x", `c${r}_${m}`))))};`);
        }
        emit(`${indent}  }`);
      }
      emit(`${indent}}`);
    }
  };
  if (cfg.pairs) {
    emit(`    for (var pair = 0u; pair < 4u; pair++) {`);
    words("(2u * pair)", "      ");
    for (const sub of [0, 1]) {
      emit(`      {`);
      subBlock(`(2u * pair + ${sub}u)`, "        ");
      emit(`      }`);
    }
    emit(`    }`);
  } else {
    emit(`    for (var j = 0u; j < 8u; j++) {`);
    words("j", "      ");
    subBlock("j", "      ");
    emit(`    }`);
  }
  return rowLaneShader(
    cfg,
    "var<workgroup> xs: array<array<array<vec4<f32>, 8>, 8>, MC>;  // [column][sub-block][word]",
    lines,
  );
}

/** Each lane's clamped weight rows and its MC accumulators per row. */
function emitLaneRows(cfg: RowLaneConfig, emit: (s: string) => void): void {
  for (const r of range(cfg.r)) {
    emit(`  let wrow${r} = min(n0 + lid + ${r * cfg.wg}u, p.rows - 1u);`);
    for (const m of range(cfg.mc)) emit(`  var c${r}_${m} = 0.0;`);
  }
}

/** Vec4 `offset` of lane row `r`'s block. */
function word(r: number, offset: string): string {
  return `w[base${r}${offset === "0u" ? "" : ` + ${offset}`}]`;
}

/** Each row's block header (vec4 of words 0..3) and its d and dmin. */
function emitHeaders(cfg: RowLaneConfig, emit: (s: string) => void): void {
  for (const r of range(cfg.r)) {
    emit(`    let base${r} = (wrow${r} * p.nb + blk) * BLOCK_VEC4;`);
    emit(`    let hd${r} = ${word(r, "0u")};`);
    emit(`    let d${r} = f16_bits_to_f32(hd${r}.x & 0xffffu);`);
    emit(`    let dm${r} = f16_bits_to_f32(hd${r}.x >> 16u);`);
  }
}

/**
 * The shader around the per-block body of a lane-per-row kernel: constants,
 * bindings, `shared` workgroup arrays, the tile prologue, each lane's rows and
 * accumulators, the loop over the K-slice's blocks (`block`, then a barrier)
 * and the stores.
 */
function rowLaneShader(cfg: RowLaneConfig, shared: string, block: string[]): string {
  const { mc: MC, r: R, wg: WG } = cfg;
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  emitLaneRows(cfg, emit);
  emit(`  for (var blk = b_begin; blk < b_end; blk++) {`);
  lines.push(...block);
  emit(`    workgroupBarrier();`);
  emit(`  }`);
  emitRowLaneStores(cfg, emit);
  return /* wgsl */ `${Q5K_WGSL}
const MC = ${MC}u;        // activation columns per column group
const WG = ${WG}u;        // lanes per workgroup
const TN = ${WG * R}u;    // weight rows per workgroup (${R} per lane)
const TM = MC;
${TILED_PARAMS}
${tiledBindings(cfg.int8 ?? false, cfg.bias)}

${shared}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * p.groups_x;
  if (tile >= p.tiles_n * ((p.m + TM - 1u) / TM)) { return; }
  let n0 = (tile % p.tiles_n) * TN;
  let m0 = (tile / p.tiles_n) * TM;
  let k4 = p.k / 4u;
  let b_begin = wid.z * (p.k_split / BLOCK_WEIGHTS);
  let b_end = min(p.nb, b_begin + p.k_split / BLOCK_WEIGHTS);
${lines.join("\n")}
}
`;
}

/** The lane-per-row columns' stores, to y or the split-K partials. */
function emitRowLaneStores(cfg: RowLaneConfig, emit: (s: string) => void): void {
  for (const r of range(cfg.r)) {
    emit(`  if (n0 + lid + ${r * cfg.wg}u < p.rows) {`);
    emit(`    let n = p.row0 + n0 + lid + ${r * cfg.wg}u;`);
    for (const m of range(cfg.mc)) {
      emit(`    if (m0 + ${m}u < p.m) {`);
      const at = cfg.split ? `(wid.z * p.m + m0 + ${m}u) * p.n + n` : `(m0 + ${m}u) * p.n + n`;
      emit(`      y[${at}] = c${r}_${m}${cfg.bias ? " + bias[n]" : ""};`);
      emit(`    }`);
    }
    emit(`  }`);
  }
}

/**
 * The int8 form: per block the workgroup stages the column group's quantized
 * activations (MC × 8 sub-blocks × 32 int8) and their (scale, d·Σq)
 * pairs; per sub-block each lane makes its rows' 32 quants bytes (8 words)
 * once and, per column, adds (dx·d·sc)·Σq·xq − (dmin·m)·Σx, the int8 mat-vec's
 * and tiled kernel's formula (llama.cpp's q8_1 form).
 */
function rowLaneInt8Wgsl(cfg: RowLaneConfig): string {
  const { mc: MC, r: R, wg: WG } = cfg;
  const rs = range(R);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  // MC columns × 16 vec4s of int8 (8 sub-blocks of 2), then MC × 8 (scale, sum).
  const stage = (count: number, per: number, store: string) => {
    for (const e of range(Math.ceil(count / WG))) {
      emit(count - e * WG < WG ? `    if (lid + ${e * WG}u < ${count}u) {` : `    {`);
      emit(`      let v = lid + ${e * WG}u;`);
      emit(`      let mm = v / ${per}u;`);
      emit(`      let row = min(m0 + mm, p.m - 1u);`);
      emit(`      let live = m0 + mm < p.m;`);
      emit(`      ${store}`);
      emit(`    }`);
    }
  };
  stage(
    MC * 16,
    16,
    "xqs[mm][(v % 16u) / 2u][v % 2u] = select(vec4<u32>(0u), xq[row * (p.k / 16u) + blk * 16u + v % 16u], live);",
  );
  stage(
    MC * 8,
    8,
    "xfs[mm][v % 8u] = select(vec2<f32>(0.0), xsc[row * (p.k / 32u) + blk * 8u + v % 8u], live);",
  );
  emit(`    workgroupBarrier();`);
  emitHeaders(cfg, emit);
  emit(`    for (var j = 0u; j < 8u; j++) {`);
  for (const r of rs) {
    emit(`      let qh${r}a = ${word(r, "1u")};`);
    emit(`      let qh${r}b = ${word(r, "2u")};`);
    emit(`      let qs${r}a = ${word(r, "3u + 2u * (j / 2u)")};`);
    emit(`      let qs${r}b = ${word(r, "4u + 2u * (j / 2u)")};`);
    emit(`      let sm${r} = scale_min(j, hd${r}.y, hd${r}.z, hd${r}.w);`);
    emit(`      let g${r} = vec2<f32>(d${r} * f32(sm${r}.x), dm${r} * f32(sm${r}.y));`);
    for (const i of range(8)) {
      const half = i < 4 ? "a" : "b";
      const comp = "xyzw"[i % 4];
      emit(`      let q${r}_${i} = quants4(qs${r}${half}.${comp}, qh${r}${half}.${comp}, j);`);
    }
  }
  for (const m of range(MC)) {
    emit(`      {`);
    emit(`        let xa = xqs[${m}][j][0];`);
    emit(`        let xb = xqs[${m}][j][1];`);
    emit(`        let f = xfs[${m}][j];`);
    for (const r of rs) {
      const dots = range(8).map((i) =>
        `dot4I8Packed(q${r}_${i}, x${i < 4 ? "a" : "b"}.${"xyzw"[i % 4]})`
      ).join(" + ");
      emit(`        let s${r} = ${dots};`);
      // |s| ≤ 32·31·127 < 2^22: exact as 1.5·2^23 + s.
      emit(
        `        c${r}_${m} = fma(f.x * g${r}.x, bitcast<f32>(bitcast<u32>(s${r}) + 0x4b400000u) - 12582912.0, fma(-g${r}.y, f.y, c${r}_${m}));`,
      );
    }
    emit(`      }`);
  }
  emit(`    }`);
  return rowLaneShader(
    cfg,
    `var<workgroup> xqs: array<array<array<vec4<u32>, 2>, 8>, MC>; // [column][sub-block][half]
var<workgroup> xfs: array<array<vec2<f32>, 8>, MC>;            // [column][sub-block]`,
    lines,
  );
}
