import assert from "node:assert/strict";
import { ggufPlan } from "./gguf_plan.ts";
import { writeGGUF } from "./gguf_writer.ts";
import { counted } from "./gguf_load.ts";
import { openGGUF, pathSource } from "../gguf/reader.ts";

Deno.test("ggufPlan groups Q5_K tensors by shape, reads one tensor per copy and lists the rest as skipped", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    // Each tensor's bytes are its index, so a read shows whose bytes it got.
    const t = (name: string, type: number, ne0: number, ne1: number, fill: number) => ({
      name,
      type,
      ne0,
      ne1,
      chunk: () => new Uint8Array(4096).fill(fill),
    });
    await writeGGUF(path, { "general.architecture": "llama" }, [
      t("token_embd.weight", 13, 256, 8, 1),
      t("blk.0.attn_q.weight", 13, 512, 4, 2),
      t("blk.0.attn_norm.weight", 0, 512, 1, 3),
      t("blk.1.attn_q.weight", 13, 512, 4, 4),
      t("blk.0.ffn_down.weight", 14, 256, 2, 5),
      t("blk.0.attn_k.weight", 13, 512, 2, 6),
    ]);
    const source = counted(await pathSource(path));
    const file = await openGGUF(source);
    const header = source.bytesRead;
    const plan = ggufPlan(file);
    assert.equal(source.bytesRead, header, "planning reads no tensor data");
    assert.deepEqual(plan.shapes.map((s) => [s.n, s.k, s.names]), [
      [4, 512, ["blk.0.attn_q.weight", "blk.1.attn_q.weight"]],
      [2, 512, ["blk.0.attn_k.weight"]],
    ]);
    assert.deepEqual(plan.skipped, [
      { name: "blk.0.attn_norm.weight", type: "F32", reason: "not Q5_K" },
      { name: "blk.0.ffn_down.weight", type: "Q6_K", reason: "not Q5_K" },
    ]);
    assert.deepEqual([plan.embedding?.name, plan.embedding?.rows, plan.embedding?.k], [
      "token_embd.weight",
      8,
      256,
    ]);
    // Copy c of a shape is its tensor c mod count, and only that tensor's bytes are read.
    const q = plan.shapes[0];
    for (const [copy, fill] of [[0, 2], [1, 4], [2, 2]]) {
      const before = source.bytesRead;
      const bytes = await q.weights!(copy);
      assert.equal(bytes.length, 4 * 2 * 176);
      assert.ok(bytes.every((b) => b === fill), `copy ${copy}`);
      assert.equal(source.bytesRead - before, bytes.length);
    }
    const table = await plan.embedding!.table!();
    assert.ok(table.length === 8 * 176 && table.every((b) => b === 1));
    source.close?.();
  } finally {
    await Deno.remove(path);
  }
});
