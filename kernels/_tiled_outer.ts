// The tiled kernel's K-major layout, unrolled: workgroup memory holds the
// step's activations as [k][m] and the dequantized weights as [k][n], and each
// thread accumulates its 8×8 outputs as outer products, one FMA per output
// per k, from two vec4 loads of its rows and two of its columns. The shape of
// the classic SGEMM kernels: 16 live operand registers a k instead of the 36
// of the rows layout's vec4 dot products, the same 16 FMAs per load. An
// earlier K-major form (f9622fe, removed in 95b1c91) indexed one flat array in
// a K loop, paying a bounds clamp per load, which is what the rows layout's
// unrolled constant-K reads removed; this one reads `[k][m]` arrays at
// constant k, so the clamp is on the thread's own m, fixed for the kernel.

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
  type TileOutput,
} from "./_tiled_parts.ts";

const BK = 32;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Workgroup memory of the K-major tile: TM + TN floats per k. */
export function outerTileBytes(tm: number, tn: number): number {
  return (tm + tn) * BK * 4;
}

/**
 * The WGSL of the K-major tiled kernel (f32 activations; TM a multiple of
 * 64, TN 64 or 128): 256 threads, 16 along M and 16 along N, two decoding
 * threads a weight row. (128- and 512-thread forms and half-sub-block steps
 * were measured and dropped in 0.2.0: docs/performance.md.)
 */
export function tiledOuterWgsl(
  cfg: TileOutput & {
    prefetch: boolean;
    xT?: boolean;
    apart?: boolean;
    vec4Out?: boolean;
  },
): string {
  const { tm: TM, tn: TN } = cfg;
  const WG = 256;
  const TX = WG / 16; // threads along N
  if (TM % 64 || TN % 64 || 2 * TN > WG) {
    throw new Error(`internal: K-major tile ${TM}x${TN} on ${WG} threads`);
  }
  const RM = TM / 16; // outputs per thread along M: RM/4 vec4s of 4 adjacent rows
  const RN = TN / TX; // and along N
  const E = (TM * BK) / 4 / WG; // activation vec4s each thread stages per step
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  for (const i of range(RM)) {
    for (const g of range(RN / 4)) emit(`  var c${i}_${g} = vec4<f32>(0.0);`);
  }
  for (const e of range(E)) emit(`  var xr${e}: vec4<f32>;`);
  emit(`  var hd: vec4<u32>;`);
  emit(`  var qh: vec4<u32>;`);
  emit(`  var qs: vec4<u32>;`);
  // Lane → (row mm, K-vec4 kq): consecutive lanes take consecutive rows, so
  // the transposing stores into [k][m] hit consecutive banks.
  const place = (e: number, indent: string) => {
    emit(`${indent}let mm${e} = (lid + ${WG * e}u) % TM;`);
    emit(`${indent}let kq${e} = (lid + ${WG * e}u) / TM;`);
  };
  // With `xT`, x is [k][ceil(m / 4) vec4s]: lane → (k, vec4 of 4 rows), each
  // load a vec4 of 4 adjacent rows, stored as it is.
  const placeT = (e: number, indent: string) => {
    emit(`${indent}let kk${e} = (lid + ${WG * e}u) / ${TM / 4}u;`);
    emit(`${indent}let mq${e} = m0 / 4u + (lid + ${WG * e}u) % ${TM / 4}u;`);
  };
  const load = (kb: string, indent: string) => {
    for (const e of range(cfg.xT ? E : 0)) {
      emit(`${indent}{`);
      placeT(e, `${indent}  `);
      emit(`${indent}  let mt4 = (p.m + 3u) / 4u;`);
      emit(
        `${indent}  xr${e} = select(vec4<f32>(0.0), x[(${kb} + kk${e}) * mt4 + min(mq${e}, mt4 - 1u)], mq${e} < mt4);`,
      );
      emit(`${indent}}`);
    }
    for (const e of range(cfg.xT ? 0 : E)) {
      emit(`${indent}{`);
      place(e, `${indent}  `);
      emit(`${indent}  let row = m0 + mm${e};`);
      emit(
        `${indent}  xr${e} = select(vec4<f32>(0.0), x[min(row, p.m - 1u) * k4 + ${kb} / 4u + kq${e}], row < p.m);`,
      );
      emit(`${indent}}`);
    }
    emitWeightWords(kb, indent, emit);
  };
  // The weights' transposing stores: with the two threads of a row TN lanes
  // apart, a subgroup's 32 stores of one k go to 32 rows, 32 banks.
  emitRowAndRange(emit, cfg.apart);
  const stage = () => {
    for (const e of range(cfg.xT ? E : 0)) {
      emit(`    {`);
      emit(`      let kk${e} = (lid + ${WG * e}u) / ${TM / 4}u;`);
      emit(`      xs[kk${e}][(lid + ${WG * e}u) % ${TM / 4}u] = xr${e};`);
      emit(`    }`);
    }
    for (const e of range(cfg.xT ? 0 : E)) {
      emit(`    {`);
      place(e, "      ");
      for (const c of range(4)) {
        emit(`      xs[4u * kq${e} + ${c}u][mm${e} / 4u][mm${e} % 4u] = xr${e}.${"xyzw"[c]};`);
      }
      emit(`    }`);
    }
    emitDecodeHeader(emit);
    for (const i of range(4)) {
      emit(`      {`);
      emit(`        let v = d1 * unpack_q(quants4(qs.${"xyzw"[i]}, qh.${"xyzw"[i]}, j)) - m1;`);
      for (const c of range(4)) {
        emit(`        ws[16u * half + ${4 * i + c}u][wn / 4u][wn % 4u] = v.${"xyzw"[c]};`);
      }
      emit(`      }`);
    }
    emit(`    }`);
  };
  const compute = () => {
    for (const kk of range(BK)) {
      emit(`    {`);
      for (const g of range(RM / 4)) emit(`      let a${g} = xs[${kk}u][tm + ${16 * g}u];`);
      for (const g of range(RN / 4)) emit(`      let b${g} = ws[${kk}u][tn + ${TX * g}u];`);
      for (const i of range(RM)) {
        for (const g of range(RN / 4)) {
          emit(
            `      c${i}_${g} = fma(vec4<f32>(a${i >> 2}.${"xyzw"[i % 4]}), b${g}, c${i}_${g});`,
          );
        }
      }
      emit(`    }`);
    }
  };
  emitStepLoop(cfg.prefetch, load, stage, compute, emit);
  const vecStores = emitOuterStores(cfg, RM, RN, TX, emit);

  return /* wgsl */ `${Q5K_WGSL}
const TM = ${TM}u;        // tile edge in M
const TN = ${TN}u;        // tile edge in N
const BK = ${BK}u;        // K-step: one sub-block
${TILED_PARAMS}
${tiledBindings(false, cfg.bias, vecStores)}

var<workgroup> xs: array<array<vec4<f32>, ${TM / 4}>, BK>;  // [k][m / 4]
var<workgroup> ws: array<array<vec4<f32>, ${TN / 4}>, BK>;  // [k][n / 4]

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${TILE_PROLOGUE}
  let k4 = p.k / 4u;
${lines.join("\n")}
}
`;
}

/**
 * Emits the stores of a K-major thread's RM×RN outputs (`c{i}_{g}`, vec4s of
 * 4 adjacent columns; rows 4·tm + 64·(i / 4) + i % 4, columns 4·tn + 4·TX·g
 * on) and returns whether they are vec4 stores, so y is bound as vec4s.
 */
export function emitOuterStores(
  cfg: TileOutput & { vec4Out?: boolean },
  RM: number,
  RN: number,
  TX: number,
  emit: (s: string) => void,
): boolean {
  const row = (i: number) => `4u * tm + ${64 * (i >> 2) + (i % 4)}u`;
  const vecStores = cfg.split || cfg.vec4Out === true;
  if (vecStores) {
    // A vec4 of 4 adjacent columns a store: scalar stores 4 columns apart
    // leave a warp's stores spread over 4 times the sectors (H200, 4096×4096
    // at M = 128, 16 K-slices: 185.6 → 159.0 µs). Split-K partial sums are
    // rows `part_stride` (N rounded up to 4) apart, with one weight binding
    // (row0 0); y takes them where N and every chunk's row0 are multiples of 4.
    const base = cfg.split ? "(wid.z * p.m + row) * p.part_stride" : "row * p.n";
    for (const i of range(RM)) {
      emit(`  {`);
      emit(`    let row = m0 + ${row(i)};`);
      emit(`    if (row < p.m) {`);
      for (const g of range(RN / 4)) {
        const col = `col${g}`;
        const bias = cfg.bias
          ? ` + vec4<f32>(bias[${col}], bias[${col} + 1u], bias[${col} + 2u], bias[${col} + 3u])`
          : "";
        emit(`      let ${col} = p.row0 + n0 + 4u * tn + ${4 * TX * g}u;`);
        emit(`      if (${col} < p.row0 + p.rows) {`);
        emit(`        y[(${base} + ${col}) / 4u] = c${i}_${g}${bias};`);
        emit(`      }`);
      }
      emit(`    }`);
      emit(`  }`);
    }
  } else {
    emitTileStores(cfg, RM, RN, emit, {
      value: (i, j) => `c${i}_${j >> 2}.${"xyzw"[j % 4]}`,
      row,
      col: (j) => `4u * tn + ${4 * TX * (j >> 2) + (j % 4)}u`,
    });
  }

  return vecStores;
}
