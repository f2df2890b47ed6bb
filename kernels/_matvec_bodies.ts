// The inner loops of the mat-vec kernel's three combines (factored lives in
// matvec_kernel.ts with the loads it shares), emitted as unrolled WGSL lines.

import type { MatvecConfig } from "./matvec_config.ts";

/** 0, 1, …, n − 1. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * The scale terms of super-block `id` for this lane's sub-blocks j and j + 1:
 * dl/du = d·sc and ml/mu = dmin·m (f32, llama.cpp's operation order). d and
 * dmin come from the branch-free f16x2_to_f32 except for the affine combine
 * above 4 columns, where the two f16_bits_to_f32 calls measured faster (H200,
 * M = 8: 4096×14336 90.5 against 118.1 µs, 4096×4096 35.1 against 37.9);
 * elsewhere f16x2_to_f32 was as fast or faster (M = 1 and 2 up to 14%, the
 * int8 combine 8–24%; README "What made it fast").
 */
export function emitScales(id: string, emit: (s: string) => void, scalarHalves = false): void {
  emit(
    scalarHalves
      ? `    let dd${id} = vec2<f32>(f16_bits_to_f32(h${id}.x & 0xffffu), f16_bits_to_f32(h${id}.x >> 16u));`
      : `    let dd${id} = f16x2_to_f32(h${id}.x);`,
  );
  emit(`    let sm${id} = scale_min_pair(j, h${id}.y, h${id}.z, h${id}.w);`);
  emit(`    let dl${id} = dd${id}.x * sm${id}.x;`);
  emit(`    let du${id} = dd${id}.x * sm${id}.y;`);
  emit(`    let ml${id} = dd${id}.y * sm${id}.z;`);
  emit(`    let mu${id} = dd${id}.y * sm${id}.w;`);
}

/**
 * The inner loop of the affine combine: per qs word, every row's 8 weights
 * become d·sc·q − dmin·m (zero for a block past the end), and each column's
 * activations are loaded once for all R rows.
 */
export function affineBody(cfg: MatvecConfig, emit: (s: string) => void): void {
  const { rows: R, cols: C, unroll: U } = cfg;
  const NW = 32 / cfg.lanesPerBlock;
  const mask = cfg.decode === "mask";
  const unpack = mask ? "unpack_q_scaled" : "unpack_q";
  const comps = "xyzw".slice(0, NW).split("");
  for (const u of range(U)) {
    for (const r of range(R)) {
      const id = `${u}_${r}`;
      emitScales(id, emit, cfg.cols > 4);
      // A block past the end contributes nothing: its weights become zero.
      const vec = (v: string) => `select(vec4<f32>(0.0), ${v}, ok${u})`;
      const scaled = (v: string) => mask ? `${v} * XSCALE` : `vec4<f32>(${v})`;
      emit(`    let dlv${id} = ${vec(scaled(`dl${id}`))};`);
      emit(`    let duv${id} = ${vec(scaled(`du${id}`))};`);
      emit(`    let mlv${id} = ${vec(`vec4<f32>(ml${id})`)};`);
      emit(`    let muv${id} = ${vec(`vec4<f32>(mu${id})`)};`);
    }
    for (const c of range(C)) {
      emit(
        `    let xb${u}_${c} = min(col0 + ${c}u, p.m - 1u) * p.k4 + b${u} * 64u + g * 16u + q * ${NW}u;`,
      );
    }
    comps.forEach((comp, i) => {
      for (const r of range(R)) {
        const id = `${u}_${r}`;
        emit(`    let hb${id}_${i} = qh${id}.${comp} >> j;`);
        emit(
          `    let wl${id}_${i} = fma(${unpack}((qs${id}.${comp} & 0x0f0f0f0fu) | ((hb${id}_${i} << 4u) & 0x10101010u)), dlv${id}, -mlv${id});`,
        );
        emit(
          `    let wu${id}_${i} = fma(${unpack}(((qs${id}.${comp} >> 4u) & 0x0f0f0f0fu) | ((hb${id}_${i} << 3u) & 0x10101010u)), duv${id}, -muv${id});`,
        );
      }
      for (const c of range(C)) {
        emit(`    {`);
        emit(`      let xl = x[xb${u}_${c} + ${i}u];`);
        emit(`      let xu = x[xb${u}_${c} + ${8 + i}u];`);
        for (const r of range(R)) {
          const id = `${u}_${r}`;
          emit(`      a${r}_${c} += dot(wl${id}_${i}, xl) + dot(wu${id}_${i}, xu);`);
        }
        emit(`    }`);
      }
    });
  }
}

/**
 * The inner loop of the int8 combine (8 lanes per block): each lane's 16
 * low-nibble and 16 high-nibble quants meet the matching 16 + 16 quantized
 * activations in 8 `dot4I8Packed`; the sub-block's activation scale and the
 * weight scales are applied once per sum; lane q = 0 of the pair that shares
 * a sub-block subtracts the min term with the sub-block's exact Σx. With
 * three planes (24-bit activations, `planes: 3`) each quants word meets the
 * same word of every plane, and the three sums join as 2¹⁶·Σa + 2⁸·Σb + Σc.
 */
export function int8Body(cfg: MatvecConfig, emit: (s: string) => void): void {
  const { rows: R, cols: C, unroll: U } = cfg;
  const comps = ["x", "y", "z", "w"];
  const planes = range(cfg.planes ?? 1);
  // Vec4s of one plane: m·k int8 values.
  const plane = (n: number) => (n === 0 ? "" : ` + ${n}u * (p.m * p.k4 / 4u)`);
  // "biased": each sum starts at the bits of 1.5·2^23 (|Σ| < 2^22), so it
  // becomes an exact float by a bit-cast and one subtraction, and the start
  // folds into the first product's accumulate; "convert": an int-to-float
  // conversion after the sum.
  const wide = planes.length === 3;
  const biased = cfg.int8Sum === "biased";
  if (wide && biased) {
    // matvecConfigFor never asks for it (see `joined` below).
    throw new Error("internal: three activation planes with biased sums");
  }
  const start = biased ? "1262485504i + " : "";
  const f = (v: string) => biased ? `(bitcast<f32>(${v}) - 12582912.0)` : `f32(${v})`;
  // The float of a sum over every plane (names i{side}{r}_{plane}). Three
  // planes join as f32(Σa)·2¹⁶ + f32(2⁸·Σb + Σc), the second sum exact in
  // i32 and in f32 (|·| < 2²⁴), and never biased: biased sums read NMSE
  // 3e-10 to 1e-8 on an H200 against 1e-14 on lavapipe, by our reading a
  // driver reassociating the float adds, which subtracts the biases from
  // terms near 2⁴⁰ and loses the low digits.
  const joined = (v: string) =>
    wide ? `(f32(${v}_0) * 65536.0 + f32(${v}_1 * 256i + ${v}_2))` : f(`${v}_0`);
  for (const u of range(U)) {
    for (const r of range(R)) {
      const id = `${u}_${r}`;
      emitScales(id, emit);
      // Lane q = 0 of the pair sharing a sub-block subtracts its whole min term.
      emit(`    let mlq${id} = select(0.0, ml${id}, q == 0u);`);
      emit(`    let muq${id} = select(0.0, mu${id}, q == 0u);`);
      comps.forEach((comp, i) => {
        emit(`    let hb${id}_${i} = qh${id}.${comp} >> j;`);
        emit(
          `    let ql${id}_${i} = (qs${id}.${comp} & 0x0f0f0f0fu) | ((hb${id}_${i} << 4u) & 0x10101010u);`,
        );
        emit(
          `    let qu${id}_${i} = ((qs${id}.${comp} >> 4u) & 0x0f0f0f0fu) | ((hb${id}_${i} << 3u) & 0x10101010u);`,
        );
      });
    }
    for (const c of range(C)) {
      emit(`    {`);
      emit(`      let col = min(col0 + ${c}u, p.m - 1u);`);
      emit(`      let xi = col * (p.k4 / 4u) + b${u} * 16u + g * 4u + q;`);
      for (const n of planes) {
        emit(`      let xl_${n} = x[xi${plane(n)}];`);
        emit(`      let xu_${n} = x[xi + 2u${plane(n)}];`);
      }
      emit(`      let sx = col * (p.nb * 8u) + b${u} * 8u + j;`);
      emit(`      let fl = xs[sx];`);
      emit(`      let fu = xs[sx + 1u];`);
      for (const r of range(R)) {
        const id = `${u}_${r}`;
        const dots = (side: "l" | "u", n: number) =>
          comps.map((comp, i) => `dot4I8Packed(q${side}${id}_${i}, x${side}_${n}.${comp})`).join(
            " + ",
          );
        for (const n of planes) {
          emit(`      let il${r}_${n} = ${start}${dots("l", n)};`);
          emit(`      let iu${r}_${n} = ${start}${dots("u", n)};`);
        }
        emit(
          `      a${r}_${c} += select(0.0, (dl${id} * fl.x * ${
            joined(`il${r}`)
          } + du${id} * fu.x * ${
            joined(`iu${r}`)
          }) - (mlq${id} * fl.y + muq${id} * fu.y), ok${u});`,
        );
      }
      emit(`    }`);
    }
  }
}
