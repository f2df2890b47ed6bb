import assert from "node:assert/strict";
import { EDGE_KINDS, makeQ5KBlob } from "./make_blob.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { f16BitsToF32 } from "./f16.ts";

Deno.test("makeQ5KBlob() is deterministic per seed and mode", () => {
  for (const mode of ["random", "quantized", "edge"] as const) {
    const a = makeQ5KBlob(3, 512, { seed: 42, mode });
    assert.deepEqual(a, makeQ5KBlob(3, 512, { seed: 42, mode }));
    assert.notDeepEqual(a, makeQ5KBlob(3, 512, { seed: 43, mode }));
    assert.equal(a.length, 3 * 2 * 176);
  }
});

Deno.test("makeQ5KBlob() random mode fixes d = dmin = f16(7e-4) like executorch's tests", () => {
  const blob = makeQ5KBlob(4, 256, { seed: 1 });
  for (let b = 0; b < 4; b++) {
    const d = f16BitsToF32(blob[b * 176] | (blob[b * 176 + 1] << 8));
    const dmin = f16BitsToF32(blob[b * 176 + 2] | (blob[b * 176 + 3] << 8));
    assert.ok(Math.abs(d - 7e-4) < 1e-6 && d === dmin);
  }
});

Deno.test("makeQ5KBlob() edge mode reaches every extreme and stays finite", () => {
  const blob = makeQ5KBlob(EDGE_KINDS, 256, { seed: 3, mode: "edge" });
  const half = (b: number, o: number) => blob[b * 176 + o] | (blob[b * 176 + o + 1] << 8);
  assert.equal(half(0, 0), 0, "d = 0");
  assert.equal(half(1, 2), 0, "dmin = 0");
  assert.ok(half(2, 0) > 0 && half(2, 0) < 0x400, "subnormal d");
  assert.ok(half(3, 0) & 0x8000 && half(3, 2) & 0x8000, "negative d and dmin");
  assert.equal(half(4, 0), 0x7bff, "max finite d");
  assert.ok(blob.subarray(5 * 176 + 4, 6 * 176).every((b) => b === 0xff), "all bits set");
  assert.ok(blob.subarray(6 * 176 + 4, 7 * 176).every((b) => b === 0), "all clear");
  assert.ok(blob.subarray(8 * 176 + 16, 8 * 176 + 48).every((b) => b === 0xff), "every 5th bit");
  assert.ok(dequantizeQ5K(blob).every(Number.isFinite));
});

Deno.test("makeQ5KBlob() rejects bad sizes, seeds and modes with the value in the message", () => {
  assert.throws(
    () => makeQ5KBlob(0, 256),
    RangeError,
    "rows must be a positive integer, current value is 0",
  );
  assert.throws(() => makeQ5KBlob(2.5, 256), RangeError, "2.5");
  assert.throws(
    () => makeQ5KBlob(1, 300),
    RangeError,
    "k must be a multiple of 256, current value is 300",
  );
  assert.throws(() => makeQ5KBlob(1, -256), RangeError, "-256");
  assert.throws(() => makeQ5KBlob("1" as unknown as number, 256), TypeError, '"1"');
  assert.throws(() => makeQ5KBlob(1, 256, { seed: -1 }), RangeError, "-1");
  assert.throws(() => makeQ5KBlob(1, 256, { seed: "x" as unknown as number }), TypeError);
  assert.throws(() => makeQ5KBlob(1, 256, { mode: "bogus" as "random" }), RangeError, '"bogus"');
  assert.throws(() => makeQ5KBlob(1, 256, null as unknown as object), TypeError);
  assert.equal(makeQ5KBlob(1, 256).length, 176);
});
