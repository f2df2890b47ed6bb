// WGSL helpers shared by the Q5_K kernels: the block's words and how to
// decode its f16 scales and packed 6-bit sub-block scales.

/** Block constants and decode functions, prepended to every Q5_K shader. */
export const Q5K_WGSL = /* wgsl */ `
const BLOCK_WEIGHTS = 256u;
const BLOCK_U32 = 44u;   // 176 bytes
const BLOCK_VEC4 = 11u;
const QH_U32 = 4u;       // qh starts at byte 16
const QS_U32 = 12u;      // qs starts at byte 48

// Exact IEEE half -> f32, subnormals included (unpack2x16float may flush them).
fn f16_bits_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let mant = h & 0x3ffu;
  if (e == 0u) {
    let mag = f32(mant) * 5.9604644775390625e-8; // mant * 2^-24, exact
    return select(mag, -mag, sign != 0u);
  }
  if (e == 31u) {
    return bitcast<f32>(sign | 0x7f800000u | (mant << 13u));
  }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (mant << 13u));
}

// llama.cpp's get_scale_min_k4 on the packed words s0 = bytes 0..3,
// s1 = bytes 4..7, s2 = bytes 8..11 of scales[12]: (scale, min) of sub-block j.
fn scale_min(j: u32, s0: u32, s1: u32, s2: u32) -> vec2<u32> {
  let sh = 8u * (j & 3u);
  let lo = vec2<u32>((s0 >> sh) & 63u, (s1 >> sh) & 63u);
  let top = vec2<u32>(((s0 >> sh) >> 6u) & 3u, ((s1 >> sh) >> 6u) & 3u);
  let nib = vec2<u32>((s2 >> sh) & 15u, ((s2 >> sh) >> 4u) & 15u);
  return select(nib | (top << vec2<u32>(4u)), lo, j < 4u);
}

// Four bytes (each < 128) of a word as four floats. Instead of an int-to-float
// conversion (a quarter- or eighth-rate instruction on most GPUs) each byte is
// placed in the mantissa of 2^23 and 2^23 is subtracted: exact, full rate.
fn unpack_q(v: u32) -> vec4<f32> {
  let bytes = (vec4<u32>(v, v >> 8u, v >> 16u, v >> 24u) & vec4<u32>(0xffu)) | vec4<u32>(0x4b000000u);
  return bitcast<vec4<f32>>(bytes) - vec4<f32>(8388608.0);
}

// The 5-bit quants of four consecutive weights of sub-block j: low or high
// nibble (j odd) of the qs word plus bit j of each qh byte.
fn quants4(qs: u32, qh: u32, j: u32) -> u32 {
  return ((qs >> (4u * (j & 1u))) & 0x0f0f0f0fu) | (((qh >> j) & 0x01010101u) << 4u);
}
`;

/**
 * The mat-vec's scale helpers, kept out of {@linkcode Q5K_WGSL} so the other
 * kernels' shader text (and the driver caches keyed on it) stays as it was.
 */
export const Q5K_SCALE_PAIR_WGSL = /* wgsl */ `
// (d, dmin) of a block's first header word, exact and without branches
// (f16_bits_to_f32 inlined twice puts control flow into the mat-vec's
// unrolled body): unpack2x16float, with zero and subnormal halves, which it
// may flush, rebuilt as mantissa · 2^-24 (the 2^23 trick of unpack_q).
fn f16x2_to_f32(h: u32) -> vec2<f32> {
  let hv = vec2<u32>(h & 0xffffu, h >> 16u);
  let mant = bitcast<vec2<f32>>((hv & vec2<u32>(0x3ffu)) | vec2<u32>(0x4b000000u)) - vec2<f32>(8388608.0);
  let sign = (hv & vec2<u32>(0x8000u)) << vec2<u32>(16u);
  let tiny = bitcast<vec2<f32>>(bitcast<vec2<u32>>(mant * 5.9604644775390625e-8) | sign);
  return select(unpack2x16float(h), tiny, (hv & vec2<u32>(0x7c00u)) == vec2<u32>(0u));
}

// scale_min for the two sub-blocks j and j + 1 (j even) at once, as floats
// (scale j, scale j + 1, min j, min j + 1): the two bytes of each are masked
// together and made floats by the 2^23 trick of unpack_q, exact.
fn scale_min_pair(j: u32, s0: u32, s1: u32, s2: u32) -> vec4<f32> {
  let sh = 8u * (j & 3u);
  let a = s0 >> sh;
  let b = s1 >> sh;
  let c = s2 >> sh;
  let high = vec2<u32>((c & 0x0f0fu) | ((a >> 2u) & 0x3030u), ((c >> 4u) & 0x0f0fu) | ((b >> 2u) & 0x3030u));
  let pr = select(high, vec2<u32>(a, b) & vec2<u32>(0x3f3fu), j < 4u);
  let v = vec4<u32>(pr.x & 0xffu, pr.x >> 8u, pr.y & 0xffu, pr.y >> 8u);
  return bitcast<vec4<f32>>(v | vec4<u32>(0x4b000000u)) - vec4<f32>(8388608.0);
}
`;
