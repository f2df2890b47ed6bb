import assert from "node:assert/strict";
import { f16BitsToF32, f32ToF16Bits } from "./f16.ts";
import { oracle } from "../conformance/test_oracle.ts";
import { normalF32 } from "./_rng.ts";

Deno.test("f16BitsToF32() matches llama.cpp's ggml_fp16_to_fp32_row on all 65,536 halves", {
  ignore: oracle === null,
}, () => {
  const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const expected = oracle!.f16ToF32(bits);
  for (let i = 0; i < 65536; i++) {
    assert.ok(Object.is(f16BitsToF32(i), expected[i]) || Number.isNaN(expected[i]), `bits ${i}`);
  }
});

Deno.test(
  "f32ToF16Bits() matches llama.cpp's ggml_fp32_to_fp16_row on ties, subnormals, overflow and NaN",
  {
    ignore: oracle === null,
  },
  () => {
    const values: number[] = [0, -0, Infinity, -Infinity, NaN, 65504, 65520, 65519.99, 1e-8, -1e-8];
    // Exact midpoints between neighbouring halves exercise round-half-to-even.
    for (let h = 0; h < 0x7c00; h += 37) {
      const a = f16BitsToF32(h);
      const b = f16BitsToF32(h + 1);
      values.push(a, (a + b) / 2, -(a + b) / 2, Math.fround(a * 1.0001));
    }
    const x = new Float32Array([...values, ...normalF32(4096, 1).map((v) => v * 1000)]);
    const expected = oracle!.f32ToF16(x);
    for (let i = 0; i < x.length; i++) {
      assert.equal(f32ToF16Bits(x[i]), expected[i], `value ${x[i]}`);
    }
  },
);

Deno.test("f16 conversion round-trips every finite half and maps specials", () => {
  for (let h = 0; h < 65536; h++) {
    const v = f16BitsToF32(h);
    if (Number.isNaN(v)) assert.equal(f32ToF16Bits(v) & 0x7fff, 0x7e00);
    else assert.equal(f32ToF16Bits(v), h);
  }
  assert.equal(f16BitsToF32(0x3c00), 1);
  assert.equal(f16BitsToF32(0x0001), 2 ** -24);
  assert.equal(f16BitsToF32(0xfc00), -Infinity);
  assert.equal(f32ToF16Bits(1e6), 0x7c00);
  assert.equal(f32ToF16Bits(2 ** -26), 0);
});

Deno.test("f16 conversion rejects bad input with the value in the message", () => {
  assert.throws(() => f16BitsToF32(65536), RangeError, "65536");
  assert.throws(() => f16BitsToF32(1.5), /current value is 1.5/);
  assert.throws(() => f32ToF16Bits("1" as unknown as number), TypeError);
  assert.equal(f16BitsToF32(0x4000), 2);
});
