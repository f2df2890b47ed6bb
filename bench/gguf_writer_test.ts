import assert from "node:assert/strict";
import { tensorBytes, writeGGUF } from "./gguf_writer.ts";
import { llamaGguf } from "../conformance/llama_gguf.ts";
import { openGGUF, pathSource, readTensor } from "../gguf/reader.ts";
import { counted } from "./gguf_load.ts";
import { mulberry32 } from "../kernels/_rng.ts";

Deno.test("the load benchmark's streaming writer makes files llama.cpp's reader and ours agree on", async () => {
  const llama = await llamaGguf();
  if (typeof llama === "string") throw new Error(llama);
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    const rand = mulberry32(3);
    const data = new Map<string, Uint8Array>();
    const tensor = (name: string, type: number, ne0: number, ne1: number) => {
      const bytes = Uint8Array.from({ length: tensorBytes(type, ne0, ne1) }, () => rand() * 256);
      data.set(name, bytes);
      // Chunks of 1000 bytes, so a tensor spans several and ends inside one.
      return {
        name,
        type,
        ne0,
        ne1,
        chunk: (i: number) => bytes.subarray(i * 1000, (i + 1) * 1000),
      };
    };
    const size = await writeGGUF(
      path,
      { "general.architecture": "llama", "llama.block_count": 2 },
      [
        tensor("a.weight", 13, 512, 3),
        tensor("b.weight", 14, 256, 5),
        tensor("c.weight", 0, 7, 1),
      ],
    );
    const view = llama.read(path)!;
    const ours = await openGGUF(path);
    assert.equal(size, ours.size);
    assert.equal(view.dataOffset, ours.dataOffset);
    assert.deepEqual(
      view.tensors,
      ours.tensors.map((t) => ({ name: t.name, offset: t.offset, type: t.type, size: t.bytes })),
    );
    assert.deepEqual(ours.metadata.get("llama.block_count"), { type: "u32", value: 2 });
    for (const t of ours.tensors) assert.deepEqual(await readTensor(ours, t), data.get(t.name));
    ours.source.close?.();
  } finally {
    llama.close();
    await Deno.remove(path);
  }
});

Deno.test("opening a GGUF file reads its header and tensor table, not its data", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    const mb = new Uint8Array(1 << 20).fill(7);
    const tensors = Array.from({ length: 40 }, (_, i) => ({
      name: `blk.${i}.w`,
      type: 0,
      ne0: 1024,
      ne1: 1024,
      chunk: () => mb,
    }));
    await writeGGUF(path, { "general.architecture": "llama" }, tensors);
    const source = counted(await pathSource(path));
    const file = await openGGUF(source);
    assert.equal(file.size, file.dataOffset + 40 * 4 * 2 ** 20);
    // One 64 KiB read-ahead at most: the 160 MiB of data stay unread.
    assert.ok(source.end <= Math.max(file.dataOffset, 1 << 16), `read up to byte ${source.end}`);
    assert.ok(source.bytesRead <= 1 << 16, `read ${source.bytesRead} bytes`);
    source.close?.();
  } finally {
    await Deno.remove(path);
  }
});
