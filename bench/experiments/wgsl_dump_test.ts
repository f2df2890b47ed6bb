import assert from "node:assert/strict";
import { wgslDump } from "./wgsl_dump.ts";

Deno.test("wgslDump() is deterministic and holds the library's tiled and mat-vec shaders", () => {
  const a = wgslDump();
  assert.deepEqual(wgslDump(), a);
  const made = a.filter((e) => !e.startsWith("ERR"));
  assert.ok(made.length > 1000);
  assert.ok(made.some((e) => e.startsWith("q5k-tiled-outer:")));
  assert.ok(made.some((e) => e.startsWith("q5k-matvec:") && e.includes(":planes3")));
  assert.ok(new Set(made).size > 1000); // distinct shaders, not one repeated
});
