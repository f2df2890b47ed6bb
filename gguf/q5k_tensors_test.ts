import assert from "node:assert/strict";
import { openGGUF, readTensor } from "./reader.ts";
import { embeddingFromGGUF, linearFromGGUF, summarizeGGUF } from "./q5k_tensors.ts";
import { fixtureLayout } from "../conformance/gguf_fixture.ts";
import { llamaGguf } from "../conformance/llama_gguf.ts";
import { testDevice } from "../conformance/test_device.ts";
import { dequantizeQ5K } from "../kernels/dequantize.ts";
import { uniformF32 } from "../kernels/_rng.ts";
import { compareNmse, compareUlp, referenceLinear } from "../conformance/compare.ts";

const llama = await llamaGguf();
const ready = typeof llama === "string" ? null : llama;
globalThis.addEventListener("unload", () => ready?.close());

async function fixture(): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  ready!.write(path, fixtureLayout());
  return path;
}

Deno.test({
  name: "layers made from a GGUF file's Q5_K tensors match the f64 reference and llama.cpp's rows",
  ignore: !ready,
  fn: async () => {
    const device = await testDevice();
    const path = await fixture();
    try {
      const file = await openGGUF(path);
      const layout = fixtureLayout();
      const q = layout.find((t) => t.name === "blk.1.ffn_up.weight")!;
      const layer = await linearFromGGUF(device, file, q.name);
      assert.equal(layer.n, q.ne1);
      assert.equal(layer.k, q.ne0);
      const x = uniformF32(3 * q.ne0, 9);
      const ref = referenceLinear(x, dequantizeQ5K(q.data), 3, q.ne1, q.ne0);
      const c = compareNmse(await layer.run(x, 3), ref, 1e-10);
      assert.ok(c.ok, c.detail);
      layer.destroy();
      const e = layout.find((t) => t.name === "token_embd.weight")!;
      const table = await embeddingFromGGUF(device, file, e.name);
      const row = await table.lookup([7]);
      assert.ok(compareUlp(row, dequantizeQ5K(e.data).subarray(7 * e.ne0, 8 * e.ne0), 1).ok);
      table.destroy();
      await assert.rejects(
        linearFromGGUF(device, file, "blk.0.ffn_down.weight"),
        /blk\.0\.ffn_down\.weight.*Q6_K/,
      );
      await assert.rejects(linearFromGGUF(device, file, "nope"), RangeError);
      await assert.rejects(linearFromGGUF(device, file, "blk.0.attn_norm.weight"), TypeError);
      await assert.rejects(
        embeddingFromGGUF(device, file, "output.weight"),
        /output\.weight.*Q6_K/,
      );
      await assert.rejects(
        readTensor(file, "nope"),
        (e: Error) => e instanceof RangeError && /"nope"/.test(e.message),
      );
      // The file answers as before after every rejected call.
      const again = await linearFromGGUF(device, file, q.name);
      const c2 = compareNmse(await again.run(x, 3), ref, 1e-10);
      assert.ok(c2.ok, c2.detail);
      again.destroy();
      const s = summarizeGGUF(file);
      assert.equal(s.architecture, "llama");
      assert.deepEqual(s.q5kShapes.map((q) => `${q.n}x${q.k}:${q.names.length}`), [
        "1024x512:1",
        "512x512:4",
        "256x512:4",
        "1536x512:4",
      ]);
      file.source.close?.();
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "cli info --gguf prints the architecture, bytes per type and the distinct Q5_K shapes",
  ignore: !ready,
  fn: async () => {
    const path = await fixture();
    try {
      const main = new URL("../cli/main.ts", import.meta.url).pathname;
      const run = (...args: string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", main, "info", ...args],
          stdout: "piped",
          stderr: "piped",
        })
          .output();
      const r = await run("--gguf", path);
      const text = new TextDecoder().decode(r.stdout);
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      assert.match(text, /architecture +llama/);
      assert.match(text, /Q5_K +13 tensors/);
      assert.match(text, /Q6_K +3 tensors/);
      assert.match(text, /1536×512 +4: blk\.0\.ffn_gate\.weight/);
      const bad = await run("--gguf", new URL("../README.md", import.meta.url).pathname);
      assert.equal(bad.code, 1);
      assert.match(
        new TextDecoder().decode(bad.stderr),
        /^error: Cannot read GGUF: magic at byte 0/,
      );
    } finally {
      await Deno.remove(path);
    }
  },
});
