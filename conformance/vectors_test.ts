import assert from "node:assert/strict";
import { oracle } from "./test_oracle.ts";
import { buildVectors, readManifest, VECTORS_DIR } from "./vectors.ts";
import { findLlamaCppLibDir } from "./oracle.ts";
import { llamaCppRelease } from "./generate_vectors.ts";
import { caseName, VECTOR_CASES } from "./cases.ts";

Deno.test("regenerating the llama.cpp vectors reproduces the committed files exactly", {
  ignore: oracle === null,
}, async () => {
  const files = await buildVectors(oracle!, await llamaCppRelease(await findLlamaCppLibDir()));
  const committed = new Set<string>();
  for await (const e of Deno.readDir(VECTORS_DIR)) committed.add(e.name);
  assert.deepEqual([...committed].sort(), [...files.keys()].sort());
  for (const [name, bytes] of files) {
    const onDisk = await Deno.readFile(new URL(name, VECTORS_DIR));
    assert.ok(
      onDisk.length === bytes.length && onDisk.every((b, i) => b === bytes[i]),
      `${name} differs`,
    );
  }
});

Deno.test("the vector manifest covers every case, names llama.cpp, and stays under 5 MB", async () => {
  const manifest = await readManifest();
  assert.equal(manifest.llamaCpp.package, "@node-llama-cpp/linux-x64@3.22.1");
  assert.deepEqual(manifest.cases.map((c) => c.name), VECTOR_CASES.map(caseName));
  let total = 0;
  for await (const e of Deno.readDir(VECTORS_DIR)) {
    total += (await Deno.stat(new URL(e.name, VECTORS_DIR))).size;
  }
  assert.ok(total < 5e6, `${total} bytes`);
  const ms = new Set(
    manifest.cases.filter((c) => c.case.op === "linear").map((c) => (c.case as { m: number }).m),
  );
  assert.ok(ms.has(1) && ms.has(130), "M from 1 to 130");
  assert.ok(
    new Set(manifest.cases.map((c) => c.case.mode)).size === 4,
    "every blob mode and LLM-like weights",
  );
});
