// The tiled kernel's K-major layout: workgroup memory holds the step's
// activations as [k][m] and the dequantized weights as [k][n], and every
// thread accumulates its RM×RN outputs as outer products, one FMA per output
// per k (no dot-then-add), from RM/4 + RN/4 vec4 loads per k. The shape of the
// classic SGEMM kernels (a 128×128 tile, 8×8 per thread), with the weights'
// Q5_K decode in the staging step.

import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import {
  emitDecodeHeader,
  emitRowAndRange,
  emitStepLoop,
  emitTileStores,
  emitWeightWords,
  TILE_PROLOGUE,
  TILED_PARAMS,
  type TileOutput,
} from "./_tiled_parts.ts";

const BK = 32;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Workgroup memory of the K-major tile: TM + TN floats per k. */
export function outerTileBytes(tm: number, tn: number): number {
  return (tm + tn) * BK * 4;
}

/** The WGSL of the K-major tiled kernel (f32 activations). */
export function tiledOuterWgsl(cfg: TileOutput & { prefetch?: boolean }): string {
  const { tm: TM, tn: TN } = cfg;
  const RM = TM / 16; // outputs per thread along M
  const RN = TN / 16; // and along N (a multiple of 4)
  const xVec = RM >= 4; // a thread's rows come as vec4s of 4 adjacent rows
  const XV = TM * (BK / 4); // activation vec4s staged per step
  const E = Math.max(1, XV / 256);
  const few = XV < 256;
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
  // the transposing stores into [k][m] hit distinct banks.
  const place = (e: number, indent: string) => {
    emit(`${indent}let mm${e} = (lid + ${256 * e}u) % TM;`);
    emit(`${indent}let kq${e} = (lid + ${256 * e}u) / TM;`);
  };
  const load = (kb: string, indent: string) => {
    for (const e of range(E)) {
      emit(`${indent}{`);
      place(e, `${indent}  `);
      emit(`${indent}  let row = m0 + mm${e};`);
      emit(
        `${indent}  xr${e} = select(vec4<f32>(0.0), x[min(row, p.m - 1u) * k4 + ${kb} / 4u + kq${e}], row < p.m${
          few ? ` && lid < ${XV}u` : ""
        });`,
      );
      emit(`${indent}}`);
    }
    emitWeightWords(kb, indent, emit);
  };
  const xsAt = (k: string, m: string) =>
    xVec ? `xs[(${k}) * ${TM / 4}u + (${m}) / 4u][(${m}) % 4u]` : `xs[(${k}) * ${TM}u + ${m}]`;
  emitRowAndRange(emit);
  const stage = () => {
    for (const e of range(E)) {
      emit(few ? `    if (lid < ${XV}u) {` : `    {`);
      place(e, "      ");
      for (const c of range(4)) {
        emit(`      ${xsAt(`4u * kq${e} + ${c}u`, `mm${e}`)} = xr${e}.${"xyzw"[c]};`);
      }
      emit(`    }`);
    }
    emitDecodeHeader(emit);
    for (const i of range(4)) {
      const comp = "xyzw"[i];
      emit(`      {`);
      emit(`        let v = d1 * unpack_q(quants4(qs.${comp}, qh.${comp}, j)) - m1;`);
      for (const c of range(4)) {
        emit(
          `        ws[(16u * half + ${4 * i + c}u) * ${TN / 4}u + wn / 4u][wn % 4u] = v.${
            "xyzw"[c]
          };`,
        );
      }
      emit(`      }`);
    }
    emit(`    }`);
  };
  const compute = () => {
    emit(`    for (var kk = 0u; kk < BK; kk++) {`);
    const aOf: string[] = [];
    if (xVec) {
      for (const g of range(RM / 4)) {
        emit(`      let a${g} = xs[kk * ${TM / 4}u + tm + ${16 * g}u];`);
        for (const c of range(4)) aOf.push(`a${g}.${"xyzw"[c]}`);
      }
    } else {
      for (const i of range(RM)) {
        emit(`      let a${i} = xs[kk * ${TM}u + tm + ${16 * i}u];`);
        aOf.push(`a${i}`);
      }
    }
    for (const g of range(RN / 4)) emit(`      let b${g} = ws[kk * ${TN / 4}u + tn + ${16 * g}u];`);
    for (const i of range(RM)) {
      for (const g of range(RN / 4)) {
        emit(`      c${i}_${g} = fma(vec4<f32>(${aOf[i]}), b${g}, c${i}_${g});`);
      }
    }
    emit(`    }`);
  };
  emitStepLoop(cfg.prefetch ?? true, load, stage, compute, emit);
  emitTileStores(
    cfg,
    RM,
    RN,
    emit,
    (i, j) => `c${i}_${j >> 2}.${"xyzw"[j % 4]}`,
    xVec ? (i) => `4u * tm + ${64 * (i >> 2) + (i % 4)}u` : (i) => `tm + ${16 * i}u`,
    (j) => `4u * tn + ${64 * (j >> 2) + (j % 4)}u`,
  );

  return /* wgsl */ `${Q5K_WGSL}
const TM = ${TM}u;        // tile edge in M
const TN = ${TN}u;        // tile edge in N
const BK = ${BK}u;        // K-step: one sub-block
${TILED_PARAMS}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${cfg.bias ? "@group(0) @binding(4) var<storage, read> bias: array<f32>;" : ""}

var<workgroup> xs: array<${xVec ? "vec4<f32>" : "f32"}, ${xVec ? BK * TM / 4 : BK * TM}>;  // [k][m]
var<workgroup> ws: array<vec4<f32>, ${BK * TN / 4}>;  // [k][n]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${TILE_PROLOGUE}
  let k4 = p.k / 4u;
${lines.join("\n")}
}
`;
}
