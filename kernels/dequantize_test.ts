import assert from "node:assert/strict";
import { dequantizeQ5K } from "./dequantize.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { mulberry32 } from "./_rng.ts";
import { oracle } from "../conformance/test_oracle.ts";
import { loadVector, readManifest, sha256 } from "../conformance/vectors.ts";

function assertBitIdentical(actual: Float32Array, expected: Float32Array, what: string) {
  assert.equal(actual.length, expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      assert.fail(
        `${what}: element ${i} (block ${i >> 8}) is ${actual[i]}, llama.cpp gives ${expected[i]}`,
      );
    }
  }
}

Deno.test("dequantizeQ5K() matches llama.cpp bit for bit on 12,000 blocks of every mode", {
  ignore: oracle === null,
}, () => {
  for (const mode of ["random", "quantized", "edge"] as const) {
    const blob = makeQ5KBlob(250, 4096, { seed: 11, mode }); // 4,000 blocks
    assertBitIdentical(dequantizeQ5K(blob), oracle!.dequantize(blob), mode);
  }
});

Deno.test("dequantizeQ5K() matches llama.cpp on fully random bytes, NaN and Inf scales included", {
  ignore: oracle === null,
}, () => {
  const rand = mulberry32(5);
  const blob = Uint8Array.from({ length: 176 * 2000 }, () => (rand() * 256) | 0);
  const got = dequantizeQ5K(blob);
  const want = oracle!.dequantize(blob);
  for (let i = 0; i < got.length; i++) {
    assert.ok(
      Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i])),
      `${i}`,
    );
  }
});

Deno.test("dequantizeQ5K() reproduces llama.cpp's output in every committed vector", async () => {
  const manifest = await readManifest();
  for (const entry of manifest.cases) {
    const v = await loadVector(entry);
    const got = dequantizeQ5K(v.blob);
    if (v.dequant) assertBitIdentical(got, v.dequant, entry.name);
    else assert.equal(await sha256(got), entry.arrays.dequant.sha256, entry.name);
  }
});

Deno.test("dequantizeQ5K() rejects bad input and keeps working", () => {
  assert.throws(() => dequantizeQ5K(new Uint8Array(175)), RangeError, "current value is 175");
  assert.throws(() => dequantizeQ5K([1, 2] as unknown as Uint8Array), TypeError, "Array(2)");
  assert.throws(() => dequantizeQ5K(new Float32Array(44) as unknown as Uint8Array), TypeError);
  assert.equal(dequantizeQ5K(new Uint8Array(0)).length, 0);
  assert.equal(dequantizeQ5K(makeQ5KBlob(1, 256)).length, 256);
});
