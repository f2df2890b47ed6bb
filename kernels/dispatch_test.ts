import assert from "node:assert/strict";
import { ceilDiv, foldWorkgroups } from "./dispatch.ts";
import { planRowChunks } from "./_weights.ts";

Deno.test("foldWorkgroups() keeps small grids 1-D and folds large ones within the limit", () => {
  assert.deepEqual(foldWorkgroups(1), [1, 1]);
  assert.deepEqual(foldWorkgroups(0), [1, 1]);
  assert.deepEqual(foldWorkgroups(65535), [65535, 1]);
  for (const count of [65536, 100000, 128256 * 4, 65535 * 65535]) {
    const [x, y] = foldWorkgroups(count);
    assert.ok(x <= 65535 && y <= 65535 && x * y >= count && x * (y - 1) < count, `${count}`);
  }
  assert.deepEqual(foldWorkgroups(10, 4), [4, 3]);
});

Deno.test("foldWorkgroups() rejects counts no grid can hold", () => {
  assert.throws(() => foldWorkgroups(65535 * 65535 + 1), RangeError, "current value is 4294836226");
  assert.throws(() => foldWorkgroups(-1), RangeError, "-1");
  assert.throws(() => foldWorkgroups(1.5), RangeError, "1.5");
  assert.equal(ceilDiv(7, 2), 4);
});

Deno.test("planRowChunks() splits on aligned row boundaries below the binding limit", () => {
  const rowBytes = 176 * 16; // k = 4096
  const chunks = planRowChunks("test", 1000, rowBytes, 128 * 1024, 256);
  let next = 0;
  for (const c of chunks) {
    assert.equal(c.row0, next);
    assert.equal(c.offset % 256, 0);
    assert.ok(c.size <= 128 * 1024);
    assert.equal(c.size, c.rows * rowBytes);
    next += c.rows;
  }
  assert.equal(next, 1000);
  assert.equal(planRowChunks("test", 10, rowBytes, 1 << 30, 256).length, 1);
});

Deno.test("planRowChunks() names the limit when one aligned group of rows cannot fit", () => {
  assert.throws(
    () => planRowChunks("create Q5_K linear", 100, 176, 1000, 256),
    RangeError,
    "maxStorageBufferBindingSize 1000",
  );
});
