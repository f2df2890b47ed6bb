import assert from "node:assert/strict";
import { quantizeQ5K } from "./quantize.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { mulberry32, normalF32, uniformF32 } from "./_rng.ts";
import { oracle } from "../conformance/test_oracle.ts";

/** 16 kinds of data, 64 blocks each: 1,024 blocks. */
function variedData(): Map<string, Float32Array> {
  const n = 64 * 256;
  const rand = mulberry32(99);
  const data = new Map<string, Float32Array>();
  data.set("normal", normalF32(n, 1));
  data.set("uniform", uniformF32(n, 2));
  data.set("constant", new Float32Array(n).fill(0.37));
  data.set("negative constant", new Float32Array(n).fill(-2.5));
  data.set("zeros", new Float32Array(n));
  data.set("tiny", normalF32(n, 3).map((v) => v * 1e-6));
  data.set("huge", normalF32(n, 4).map((v) => v * 1e4));
  data.set("outliers", normalF32(n, 5).map((v) => (rand() < 0.01 ? v * 300 : v)));
  data.set("positive", uniformF32(n, 6, 0.5, 3));
  data.set("negative", uniformF32(n, 7, -3, -0.01));
  data.set("sparse", normalF32(n, 8).map((v) => (rand() < 0.9 ? 0 : v)));
  data.set("steps", Float32Array.from({ length: n }, (_, i) => Math.floor(i / 7) % 31));
  data.set("per-block scale", normalF32(n, 9).map((v, i) => v * 10 ** ((i >> 8) % 9 - 4)));
  data.set("subnormal-ish", normalF32(n, 10).map((v) => v * 1e-30));
  data.set("ties", Float32Array.from({ length: n }, (_, i) => (i % 64) / 2 - 8));
  data.set(
    "one outlier per block",
    Float32Array.from({ length: n }, (_, i) => i % 256 === 0 ? 50 : (i % 5) * 0.1),
  );
  return data;
}

Deno.test(
  "quantizeQ5K() equals llama.cpp's quantize_row_q5_K_ref byte for byte on 1,024 varied blocks",
  {
    ignore: oracle === null,
  },
  () => {
    for (const [name, x] of variedData()) {
      const got = quantizeQ5K(x);
      const want = oracle!.quantize(x);
      for (let i = 0; i < got.length; i++) {
        if (got[i] !== want[i]) {
          assert.fail(
            `${name}: byte ${i} (block ${Math.floor(i / 176)}, offset ${i % 176}) is ${
              got[i]
            }, llama.cpp writes ${want[i]}`,
          );
        }
      }
    }
  },
);

Deno.test("quantizeQ5K() output dequantizes close to its input", () => {
  const x = normalF32(256 * 16, 12);
  const y = dequantizeQ5K(quantizeQ5K(x));
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += x[i] ** 2;
  }
  // 5-bit quantization of Gaussian data: relative error around 1e-3.
  assert.ok(num / den < 5e-3, `NMSE ${num / den}`);
});

Deno.test("quantizeQ5K() rejects bad input and keeps working", () => {
  assert.throws(() => quantizeQ5K(new Float32Array(300)), RangeError, "current value is 300");
  assert.throws(() => quantizeQ5K(new Float32Array(0)), RangeError, "current value is 0");
  assert.throws(
    () => quantizeQ5K(new Float64Array(256) as unknown as Float32Array),
    TypeError,
    "Float64Array",
  );
  const withNaN = new Float32Array(256);
  withNaN[17] = NaN;
  assert.throws(() => quantizeQ5K(withNaN), RangeError, "index 17 is NaN");
  const withInf = new Float32Array(512);
  withInf[300] = -Infinity;
  assert.throws(() => quantizeQ5K(withInf), RangeError, "index 300 is -Infinity");
  assert.equal(quantizeQ5K(new Float32Array(256)).length, 176);
});
