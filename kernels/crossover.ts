/**
 * Where the dispatcher switches from the mat-vec kernel to the lane-per-row
 * kernel and from that to the tiled one.
 *
 * @module
 */

import { envVar } from "./_env.ts";
import { positiveInt, show } from "./_validate.ts";

/** Which kernel family `"auto"` runs at each batch size, with where the numbers came from. */
export interface Crossover {
  /** `"auto"` runs mat-vec for M up to this. */
  maxMatvecM: number;
  /**
   * In `record()`, where an op shares its compute pass with others, `"auto"`
   * runs mat-vec for M up to this instead (f32; at most `maxMatvecM`), the
   * lane-per-row kernel above it.
   */
  maxSharedPassMatvecM: number;
  /**
   * Above `maxMatvecM` and up to this, the lane-per-row kernel; tiled above
   * (equal to `maxMatvecM`: no lane-per-row range).
   */
  maxRowLaneM: number;
  /** With `activations: "int8"`: mat-vec up to this. */
  maxInt8MatvecM: number;
  /**
   * With `activations: "auto"` (the default) where WGSL has `dot4I8Packed`:
   * mat-vec on activations held as 24 bits per 32 values (three int8 digit
   * planes, f32-class accuracy) for M up to this, one pass per op or in a
   * shared pass, ahead of the f32 kernels (absent or 0: never).
   */
  maxWideMatvecM?: number;
  /**
   * The same in `record()`, where an op shares its compute pass (at most
   * `maxWideMatvecM`; absent: `maxWideMatvecM`).
   */
  maxSharedPassWideMatvecM?: number;
  /**
   * With `activations: "int8"`: above `maxInt8MatvecM` and up to this, the
   * lane-per-row kernel; tiled above (equal to `maxInt8MatvecM`: no range).
   */
  maxInt8RowLaneM: number;
  /**
   * f32 only: batch sizes (first and last, inclusive) inside the lane-per-row
   * range that run the tiled kernel, where its 64-row tiles lead (absent:
   * none).
   */
  tiledBand?: readonly [number, number];
  /**
   * Whether the f32 tiled kernel, at tiles of 64 rows or more (M > 32), runs
   * K-major on activations transposed by a kernel of their own first,
   * instead of in the rows layout (absent: no). `KQUANT_TILED=rows|transposed`
   * overrides it.
   */
  transposedTiled?: boolean;
  /**
   * Workgroups of the K-major tiled kernel that run at once (one an SM), if
   * known: its K-split then takes the fewest whole waves of the shortest
   * K-slices (`splitsForWaves`) instead of aiming at 768 workgroups (absent:
   * that). `KQUANT_SPLITS` overrides both.
   */
  tiledWaveSlots?: number;
  /**
   * f32 K-major only: from this M on, the tiled kernel runs 256-row tiles
   * (256×128, 16×8 outputs a thread, 48 KiB of workgroup memory) where the
   * device gives that much and they pad M to no more rows than 128-row tiles
   * do (`tallTiles`: M = 129…256, 385…512, …; absent: never). `KQUANT_TALL=M`
   * overrides it (0: never).
   */
  tallTiledFromM?: number;
  /** Where the numbers came from (measured device class, default, or KQUANT_CROSSOVER). */
  source: string;
}

/** PCI vendor id of NVIDIA, as adapters report it (decimal or hex, or by name). */
const NVIDIA = /^(0x)?10de$|^4318$|nvidia/i;

/**
 * The crossover for a device class. Measured class: NVIDIA (an H200 over
 * Vulkan, subgroups of 32; bench/results/h200.json, `--variant all`). With
 * the branch-free scale decode of a0f4539, for 14336×4096, 4096×14336 and
 * 4096×4096 mat-vec took 55.3, 53.9, 22.8 µs at M = 3 against 58.4, 66.7,
 * 28.8 for lane-per-row, at M = 4 (mixed) 63.1, 61.1, 25.5 against 58.8,
 * 67.3, 29.1, and 101.7, 87.6, 34.9 at M = 8 against 72.3,
 * 81.3, 33.8: mat-vec up to M = 3, judged one pass per op as the bench
 * reports it (several ops in one pass favour lane-per-row from M = 2, see
 * below). With column groups of exactly M (rowlane_kernel.ts) the
 * lane-per-row kernel took 48.6, 52.8, 25.9 µs at M = 3 against mat-vec's
 * 55.4, 54.2, 22.8 (the last CPU-bound, the GPU idle), so mat-vec now runs
 * up to M = 2. In the run that introduced the
 * lane-per-row kernel (25d4e14) it stayed ahead of tiled or within 1% up to
 * M = 64 (319.2, 319.5, 108.8 µs against 318.9, 350.5, 107.9) and fell
 * behind at M = 128 for 14336×4096 (597.5 against 498.4). With column
 * groups split evenly (rowlane_kernel.ts `columnGroup`; H200, one run each,
 * `bench --variant rowlane` and `tiled`) it leads up to M = 96 on all three
 * shapes: M = 72 373.4, 371.2, 138.3 µs against 477.5, 529.4, 161.9; M = 96
 * 464.3, 461.3, 170.4 against 488.9, 536.5, 170.7 (H100: 466.6, 462.0,
 * 178.3 against 490.5, 536.0, 173.5); at M = 97 (four groups of 25)
 * 14336×4096 falls behind (503.5 against 491.0) and at 112 further (543.9
 * against 495.3): lane-per-row up to 96. With int8 activations (the H200
 * and H100 runs of the README command at 8115e91) the int8 lane-per-row
 * kernel is faster than the int8 mat-vec from M = 16 (not at 8: 63.5, 68.2 against 53.1, 56.1 µs, H200).
 * With its 64-column groups (the H200 run of the README command at 7c2845e)
 * it is faster than int8 tiled on all three shapes up to M = 256 (561.2,
 * 541.5, 177.2 µs against 605.0, 604.2, 234.0) and on two of them at 512
 * (1179.6 against 1136.9 for 14336×4096), so int8 runs mat-vec up to 8 and
 * lane-per-row up to 256. Since cdba381 the f32 tiled kernel runs 64-row
 * tiles K-major too, with vec4 stores and a K-split by whole waves; against
 * lane-per-row (H200, `bench --op linear --variant rowlane` and `tiled`,
 * 4096×4096 / 14336×4096 / 4096×14336, µs per pass) it leads at M = 64
 * (92.5 / 305.0 / 287.0 against 109.5 / 321.2 / 321.3; shared pass 84.9 /
 * 291.3 / 273.9 against 89.0 / 299.1 / 299.4), ties at 56 (92.1 / 301.0 /
 * 286.1 against 97.4 / 292.0 / 293.2; shared pass behind on all three),
 * trails at 48 (91.8 / 298.6 / 284.6 against 85.6 / 259.7 / 260.4); above 64
 * its 128-row tiles trail again at 80 on the two larger shapes (437.7 /
 * 428.0 against 417.3 / 415.1) and lead at 96 (443.3 / 428.9 against 464.6 /
 * 460.8); lane-per-row's times grow with M (M = 80 to 96: 152.8 → 173.0,
 * 417.3 → 464.6, 415.1 → 460.8) while the 128-row tiles' stay flat (135.1 →
 * 136.3, 437.7 → 443.3, 428.0 → 428.9), so they cross between 80 and 96.
 * Where exactly (H100, the same commands at 7b3f60a, M = 80…96): lane-per-row
 * steps up between 84 and 85, where its three column groups grow from 28 to 29
 * columns (161.1 → 167.7, 422.7 → 440.0, 416.9 → 437.2 µs; 4096×4096 /
 * 14336×4096 / 4096×14336), the step M = 57 takes too (two groups of 29), and
 * tiled leads from 85 on all three shapes (137.0, 438.1, 423.4) while
 * lane-per-row leads at 84 on the two larger ones (422.7 / 416.9 against 437.7
 * / 423.4; 4096×4096 is tiled's from 80). So tiled at M = 57…64 (`tiledBand`)
 * and above 84, lane-per-row between. Other
 * devices get llama.cpp's Vulkan default (mat-vec up to M = 8, tiled above,
 * no lane-per-row range): a conservative choice, since every kernel is
 * correct at every M.
 *
 * Several ops recorded into one pass (`record()`) favour the lane-per-row
 * kernel from M = 2 on both cards and all three shapes (the README command's
 * runs at 17fa3fd, `shared pass` column, 14336×4096 / 4096×14336 / 4096×4096, H200:
 * M = 2 33.6 / 34.7 / 14.8 µs against mat-vec's 40.9 / 39.7 / 15.8, M = 3
 * 42.6 / 43.7 / 17.6 against 50.3 / 49.4 / 18.5; H100: 35.0 / 36.5 / 15.4
 * against 41.0 / 39.7 / 16.1 at M = 2; M = 1 keeps mat-vec, 27.3 against
 * 33.2 µs on the H200), while one pass per op keeps mat-vec up to 2: its
 * split-K reduction, a second dispatch, costs more in a pass of its own.
 *
 * The mat-vec on 24-bit activations (`maxWideMatvecM`, NVIDIA: up to M = 4,
 * in a shared pass too): emulated first (`bench/experiments/wide_int.ts` at
 * 6fcf0d2, H200, the int8 mat-vec doing the products of two further digit
 * planes, 8 ops a pass, 14336×4096 / 4096×14336) at M = 1, 2, 4 21.7 / 25.2,
 * 25.6 / 28.3, 38.6 / 37.8 µs against the f32 path's 27.2 / 27.7, 33.8 /
 * 34.9, 43.0 / 44.1, but at M = 8 79.2 / 79.6 against 55.6 / 58.9. With its
 * own layout (matvec_config.ts), `bench --op linear --m 1,2,3,4,5 --no-dense
 * --min-time 0.3` with `--variant matvec-int24` against `matvec` and
 * `rowlane` (1a08929's kernels, on its working tree before these limits, which
 * those rows do not depend on; the committed full runs at 1a08929 and 93bb0c2
 * agree; 14336×4096 / 4096×14336 / 4096×4096, µs per pass, then in a shared
 * pass):
 * - H200: M = 1 27.8 / 28.0 / 16.7 and 20.1 / 20.2 / 9.4 against the f32
 *   mat-vec's 32.7 / 32.7 / 17.3 and 27.2 / 27.7 / 11.6; M = 3 42.6 / 42.1 /
 *   21.1 and 33.9 / 31.3 / 14.2 against lane-per-row's 48.8 / 53.1 / 26.1
 *   and 39.4 / 40.5 / 16.5; M = 4 51.3 / 50.6 / 23.5 and 42.0 / 38.6 / 16.5
 *   against 52.9 / 57.1 / 27.2 and 43.0 / 44.1 / 17.7; M = 5 61.7 / 57.7 /
 *   26.0 and 52.3 / 46.7 / 19.2 against 57.6 / 62.1 / 28.4 and 48.0 / 49.0 /
 *   18.8, so not there.
 * - H100: M = 1 31.9 / 31.5 / 19.3 and 22.1 / 21.8 / 10.3 against 34.8 /
 *   34.9 / 17.8 (one pass per op at 4096×4096 is CPU-bound, two dispatches
 *   against one) and 27.4 / 27.9 / 12.0; M = 4 55.6 / 54.0 / 25.4 and 44.5 /
 *   39.9 / 17.2 against lane-per-row's 55.5 / 59.6 / 29.1 and 44.0 / 45.3 /
 *   18.3 (14336×4096 the one row within 1% behind).
 * The limits before that layout (3, 2 in a shared pass, f32 at M = 1 of rows
 * over 31 blocks) came from `bench --op linear --m 1,2,3,4,5,8 --variant auto`
 * runs at 9897dd9 (`bench/results/h200-int24.json`, `h100-int24.json` until
 * the full runs at 1a08929 and 93bb0c2 replaced them).
 *
 * `KQUANT_CROSSOVER=A[,B[,C[,D[,E[,F]]]]]` overrides the numbers (E: the
 * shared-pass mat-vec limit, F: the 24-bit mat-vec limit, 0 for none) for
 * experiments.
 *
 * @param info The adapter's info (vendor, architecture).
 * @returns The crossover and where it came from.
 * @example
 * ```ts
 * import { crossoverFor } from "@kquant/webgpu";
 * crossoverFor().maxMatvecM; // 8 for an unknown device
 * ```
 */
export function crossoverFor(info?: GPUAdapterInfo): Crossover {
  const nvidia = !!info && (NVIDIA.test(info.vendor) || NVIDIA.test(info.description));
  const form = envVar("KQUANT_TILED");
  // H200, `bench --op linear --variant tiled` with KQUANT_TILED=transposed against rows, on
  // the commit that made it the default (two rounds, alike): 14336×4096 / 4096×14336 / 4096×4096
  // at M = 512 1621.7 / 1634.7 / 556.1 µs against 1761.2 / 1786.4 / 572.6, M = 256 852.4 / 866.4
  // / 341.7 against 918.3 / 932.0 / 330.0, M = 128 486.8 / 503.4 / 184.1 against 500.3 / 540.1 /
  // 176.9, M = 97 462.0 / 491.5 / 169.0 against 489.1 / 534.1 / 170.6 (4096×4096 at M = 128
  // and 256 the two rows where it was slower, by 3–4%; since cdba381's vec4 stores and
  // whole-wave K-splits 141.6 and 254.0 µs in the README command's H200 run).
  const transposedTiled = form === "transposed" || (form !== "rows" && nvidia);
  // The 132 SMs of an H100 SXM or an H200, where the K-major tiled kernel runs one
  // workgroup an SM (tiled_kernel.ts `splitsForWaves` has the measurements).
  const slots = nvidia ? { tiledWaveSlots: 132 } : {};
  const tall = tallFrom(nvidia && transposedTiled);
  return {
    ...crossoverOf(nvidia),
    transposedTiled,
    ...slots,
    ...(tall ? { tallTiledFromM: tall } : {}),
  };
}

/**
 * Where the K-major tiled kernel takes 256-row tiles (0: never). NVIDIA:
 * TALL_FROM_M; `KQUANT_TALL` overrides it.
 */
function tallFrom(kMajor: boolean): number {
  const tuned = envVar("KQUANT_TALL");
  if (tuned !== undefined && Number.isInteger(Number(tuned)) && Number(tuned) >= 0) {
    return Number(tuned);
  }
  return kMajor ? TALL_FROM_M : 0;
}

/**
 * 256-row tiles on NVIDIA from M = 129 wherever they pad M no further than
 * 128-row tiles: fewer barriers, decodes and workgroup-memory reads a FMA,
 * each thread 16×8 outputs. H200, the library's path at f4747b0 (`bench --op
 * linear --variant tiled --m 129,160,192,224,256,320,384,512` with
 * KQUANT_TALL=129 against 0, two rounds alike; 4096×4096 / 14336×4096 /
 * 4096×14336, µs): M = 512 455.1 / 1486.3 / 1470.2 against 467.8 / 1596.8 /
 * 1597.3 (40.5 and 40.9 TFLOP/s for the two larger shapes), M = 256 253.3 /
 * 809.7 / 763.0 against 253.2 / 821.6 / 810.9, M = 129 240.6 / 762.8 / 750.0
 * against 242.8 / 795.2 / 801.1; but M = 320 447.0 / 1441.0 / 1451.9 against
 * 363.9 / 1238.0 / 1200.4 and M = 384 449.9 / 1455.4 / 1457.5 against 370.3 /
 * 1251.9 / 1211.0, where two 256-row tiles are mostly padding.
 */
const TALL_FROM_M = 129;

function crossoverOf(nvidia: boolean): Omit<Crossover, "transposedTiled"> {
  const tuned = (envVar("KQUANT_CROSSOVER") ?? "").split(",").map(Number);
  if (tuned[0] >= 1) {
    const rowLane = Math.max(tuned[0], tuned[1] >= 1 ? tuned[1] : tuned[0]);
    const int8 = tuned[2] >= 1 ? tuned[2] : tuned[0];
    return {
      maxMatvecM: tuned[0],
      maxSharedPassMatvecM: tuned[4] >= 1 ? Math.min(tuned[4], tuned[0]) : tuned[0],
      maxRowLaneM: rowLane,
      maxInt8MatvecM: int8,
      maxInt8RowLaneM: Math.max(int8, tuned[3] >= 1 ? tuned[3] : int8),
      ...(tuned[5] >= 1 ? { maxWideMatvecM: tuned[5] } : {}),
      source: "KQUANT_CROSSOVER",
    };
  }
  if (nvidia) {
    return {
      maxMatvecM: 2,
      maxSharedPassMatvecM: 1,
      maxRowLaneM: 84,
      tiledBand: [57, 64],
      maxInt8MatvecM: 8,
      maxInt8RowLaneM: 256,
      maxWideMatvecM: 4,
      maxSharedPassWideMatvecM: 4,
      source: "measured for NVIDIA (H200 and H100, Vulkan; bench/results/h200.json, h100.json)",
    };
  }
  return {
    maxMatvecM: 8,
    maxSharedPassMatvecM: 8,
    maxRowLaneM: 8,
    maxInt8MatvecM: 8,
    maxInt8RowLaneM: 8,
    source: "default (llama.cpp Vulkan uses mat-vec up to M = 8)",
  };
}

/**
 * Up to which M the 24-bit mat-vec runs (0: never), in a shared pass or not.
 *
 * @param c The crossover.
 * @param shared The op shares its compute pass with others (`record()`).
 * @returns The limit.
 */
export function wideMatvecLimit(c: Crossover, shared: boolean): number {
  const all = c.maxWideMatvecM ?? 0;
  return shared ? Math.min(all, c.maxSharedPassWideMatvecM ?? all) : all;
}

/** The kernel families `"auto"` chooses between. */
export type KernelFamily = "matvec" | "rowlane" | "tiled";

/**
 * The family `"auto"` runs for batch size `m` under a crossover: mat-vec up
 * to its limit (the shared-pass one for f32 when `shared`; the 24-bit one
 * when `wide` and above those), the lane-per-row kernel up to its, tiled
 * above.
 *
 * @param c The crossover, from {@linkcode crossoverFor}.
 * @param m Batch size.
 * @param int8 Activations quantized to 8 bits (the opt-in int8 path).
 * @param shared The op shares its compute pass with others (`record()`).
 * @param wide f32 activations may be held as 24 bits per 32 for the
 *   mat-vec (`activations: "auto"` on a runtime with `dot4I8Packed`).
 * @returns The kernel family.
 * @throws {TypeError} If c lacks a limit or a flag is not a boolean.
 * @throws {RangeError} If m is not a positive integer.
 * @example
 * ```ts
 * import { crossoverFor, familyFor } from "@kquant/webgpu";
 * familyFor(crossoverFor(), 9, false, false); // "tiled" for an unknown device
 * ```
 */
export function familyFor(
  c: Crossover,
  m: number,
  int8: boolean,
  shared: boolean,
  wide = false,
): KernelFamily {
  const action = "choose a kernel family";
  const limits = [
    "maxMatvecM",
    "maxSharedPassMatvecM",
    "maxRowLaneM",
    "maxInt8MatvecM",
    "maxInt8RowLaneM",
  ] as const;
  if (typeof c !== "object" || c === null) {
    throw new TypeError(
      `Cannot ${action}: crossover must be an object, current value is ${show(c)}`,
    );
  }
  for (const key of limits) {
    if (typeof c[key] !== "number") {
      throw new TypeError(
        `Cannot ${action}: crossover.${key} must be a number, current value is ${show(c[key])}`,
      );
    }
  }
  positiveInt(action, "m", m);
  for (const [name, flag] of [["int8", int8], ["shared", shared], ["wide", wide]] as const) {
    if (typeof flag !== "boolean") {
      throw new TypeError(
        `Cannot ${action}: ${name} must be a boolean, current value is ${show(flag)}`,
      );
    }
  }
  const band = c.tiledBand;
  if (
    band !== undefined &&
    (!Array.isArray(band) || band.length !== 2 || !band.every((b) => Number.isInteger(b)))
  ) {
    throw new TypeError(
      `Cannot ${action}: crossover.tiledBand must be two integers, current value is ${show(band)}`,
    );
  }
  for (const key of ["maxWideMatvecM", "maxSharedPassWideMatvecM"] as const) {
    const value = c[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
      throw new TypeError(
        `Cannot ${action}: crossover.${key} must be an integer of at least 0, current value is ${
          show(value)
        }`,
      );
    }
  }
  const matvec = int8 ? c.maxInt8MatvecM : shared ? c.maxSharedPassMatvecM : c.maxMatvecM;
  if (m <= matvec || (!int8 && wide && m <= wideMatvecLimit(c, shared))) return "matvec";
  if (!int8 && band && m >= band[0] && m <= band[1]) return "tiled";
  return m <= (int8 ? c.maxInt8RowLaneM : c.maxRowLaneM) ? "rowlane" : "tiled";
}
