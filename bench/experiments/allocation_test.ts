import assert from "node:assert/strict";
import { packedOffsets } from "./allocation.ts";

Deno.test("packedOffsets places copies aligned and without overlap", () => {
  const bytes = 14336 * 16 * 176; // 14336×4096 Q5_K
  const offsets = packedOffsets(bytes, 7, 256);
  assert.equal(offsets.length, 7);
  assert.equal(offsets[0], 0);
  for (let i = 1; i < offsets.length; i++) {
    assert.equal(offsets[i] % 256, 0);
    assert.ok(offsets[i] - offsets[i - 1] >= bytes);
    assert.ok(offsets[i] - offsets[i - 1] < bytes + 256);
  }
  // A size that is not a multiple of the alignment is rounded up.
  assert.deepEqual(packedOffsets(300, 3, 256), [0, 512, 1024]);
});
