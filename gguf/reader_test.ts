import assert from "node:assert/strict";
import { blobSource, GGUF_VALUE_TYPES, type GGUFFile, openGGUF, readTensor } from "./reader.ts";
import { GGML_TYPES } from "./ggml_types.ts";
import { type FixtureTensor, llamaGguf } from "../conformance/llama_gguf.ts";
import { quantizeQ5K } from "../kernels/quantize.ts";
import { mulberry32, normalF32 } from "../kernels/_rng.ts";

const llama = await llamaGguf();
const ready = typeof llama === "string" ? null : llama;
const why = typeof llama === "string" ? llama : "";
globalThis.addEventListener("unload", () => ready?.close());

function randomBytes(n: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

/** A small model-shaped set: Q5_K weights (quantized by our llama.cpp port) and other types beside them. */
function fixtureTensors(): FixtureTensor[] {
  const q5k = (ne0: number, ne1: number, seed: number) => quantizeQ5K(normalF32(ne0 * ne1, seed));
  const sized = (type: number, ne0: number, ne1: number) => {
    const t = GGML_TYPES.get(type)!;
    return (ne0 * ne1 / t.blockSize) * t.typeSize;
  };
  return [
    { name: "token_embd.weight", type: 13, ne0: 512, ne1: 32, data: q5k(512, 32, 1) },
    { name: "blk.0.attn_q.weight", type: 13, ne0: 512, ne1: 512, data: q5k(512, 512, 2) },
    {
      name: "blk.0.ffn_down.weight",
      type: 14,
      ne0: 768,
      ne1: 512,
      data: randomBytes(sized(14, 768, 512), 3),
    },
    {
      name: "blk.0.ffn_up.weight",
      type: 12,
      ne0: 512,
      ne1: 768,
      data: randomBytes(sized(12, 512, 768), 4),
    },
    {
      name: "blk.0.attn_v.weight",
      type: 8,
      ne0: 512,
      ne1: 64,
      data: randomBytes(sized(8, 512, 64), 5),
    },
    { name: "blk.0.attn_k.weight", type: 1, ne0: 512, ne1: 64, data: randomBytes(512 * 64 * 2, 6) },
    { name: "blk.0.attn_norm.weight", type: 0, ne0: 512, ne1: 1, data: randomBytes(512 * 4, 7) },
  ];
}

async function written(alignment?: number): Promise<{ path: string; tensors: FixtureTensor[] }> {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  const tensors = fixtureTensors();
  ready!.write(path, tensors, alignment);
  return { path, tensors };
}

Deno.test({
  name: "GGML_TYPES matches llama.cpp's ggml_type_size and ggml_blck_size for every type id",
  ignore: !ready,
  fn: () => {
    for (const [id, t] of GGML_TYPES) {
      assert.equal(ready!.typeSize(id), t.typeSize, `${t.name} type size`);
      assert.equal(ready!.blockSize(id), t.blockSize, `${t.name} block size`);
    }
  },
});

// llama.cpp's writer keeps 32-byte offsets and padding even where general.alignment
// says otherwise, so the fixtures use the default alignment.
for (const alignment of [undefined]) {
  Deno.test({
    name: "openGGUF agrees with llama.cpp's reader field for field on a file llama.cpp wrote",
    ignore: !ready,
    fn: async () => {
      const { path, tensors } = await written(alignment);
      try {
        const theirs = ready!.read(path)!;
        const ours = await openGGUF(path);
        assert.equal(ours.version, theirs.version);
        assert.equal(ours.alignment, theirs.alignment);
        assert.equal(ours.dataOffset, theirs.dataOffset);
        assert.deepEqual(
          [...ours.metadata].map(([key, v]) => ({
            key,
            type: GGUF_VALUE_TYPES.indexOf(v.type),
            ...(v.type === "array"
              ? {
                arrType: GGUF_VALUE_TYPES.indexOf(v.itemType),
                arrN: v.value.length,
              }
              : {}),
          })),
          theirs.kv,
        );
        assert.deepEqual(
          ours.tensors.map((t) => ({
            name: t.name,
            offset: t.offset,
            type: t.type,
            size: t.bytes,
          })),
          theirs.tensors,
        );
        // The values and bytes as written.
        const m = ours.metadata;
        assert.deepEqual(m.get("test.u64"), { type: "u64", value: 18000000000000000000n });
        assert.deepEqual(m.get("test.i64"), { type: "i64", value: -9000000000000000000n });
        assert.deepEqual(m.get("test.i8"), { type: "i8", value: -100 });
        assert.deepEqual(m.get("test.f32"), { type: "f32", value: Math.fround(0.1) });
        assert.deepEqual(m.get("test.bool"), { type: "bool", value: true });
        assert.deepEqual(m.get("test.utf8"), { type: "string", value: "Q5_K ✓ ünïcødé" });
        const tokens = m.get("tokenizer.ggml.tokens");
        assert.ok(tokens?.type === "array");
        assert.deepEqual(tokens.value.map((v) => v.value), ["<s>", "</s>", "hello"]);
        for (const t of tensors) {
          const info = ours.tensors.find((x) => x.name === t.name)!;
          // ggml writes n_dims without trailing 1s (ggml_n_dims).
          const dims = t.ne1 === 1 ? [t.ne0] : [t.ne0, t.ne1];
          assert.deepEqual(info.dims, dims, `${t.name}: ggml dims, ne0 first`);
          assert.deepEqual(await readTensor(ours, info), t.data, t.name);
        }
        ours.source.close?.();
      } finally {
        await Deno.remove(path);
      }
    },
  });
}

Deno.test({
  name: "openGGUF reads the same from a path, the bytes and a Blob",
  ignore: !ready,
  fn: async () => {
    const { path } = await written();
    try {
      const bytes = await Deno.readFile(path);
      const summary = (f: GGUFFile) =>
        JSON.stringify({ t: f.tensors, d: f.dataOffset, k: [...f.metadata.keys()] });
      const fromPath = await openGGUF(path);
      assert.equal(summary(await openGGUF(bytes)), summary(fromPath));
      assert.equal(summary(await openGGUF(blobSource(new Blob([bytes])))), summary(fromPath));
      fromPath.source.close?.();
    } finally {
      await Deno.remove(path);
    }
  },
});

/** Bytes of a llama.cpp-written fixture, and where a tensor's info fields start. */
async function fixtureBytes(): Promise<{ bytes: Uint8Array; infoOf: (name: string) => number }> {
  const { path } = await written();
  const bytes = await Deno.readFile(path);
  await Deno.remove(path);
  const infoOf = (name: string) => {
    const needle = new TextEncoder().encode(name);
    for (let i = 0; i < bytes.length - needle.length; i++) {
      if (needle.every((b, j) => bytes[i + j] === b) && bytes[i + needle.length] !== 0x2e) {
        return i + needle.length; // n_dims
      }
    }
    throw new Error(`no ${name}`);
  };
  return { bytes, infoOf };
}

async function rejects(bytes: Uint8Array, pattern: RegExp, what: string): Promise<void> {
  await assert.rejects(openGGUF(bytes), (e: Error) => {
    assert.ok(e instanceof TypeError || e instanceof RangeError, `${what}: ${e}`);
    assert.match(e.message, /at byte \d+/, what);
    assert.match(e.message, pattern, what);
    return true;
  });
}

Deno.test({
  name: "hostile GGUF files fail with the field and byte offset named",
  ignore: !ready,
  fn: async () => {
    const { bytes, infoOf } = await fixtureBytes();
    const patched = (at: number, write: (v: DataView) => void) => {
      const copy = bytes.slice();
      write(new DataView(copy.buffer, at));
      return copy;
    };
    await rejects(patched(0, (v) => v.setUint32(0, 0x46554748, true)), /magic/, "magic");
    await rejects(patched(4, (v) => v.setUint32(0, 1, true)), /version .*is 1/, "v1");
    await rejects(patched(4, (v) => v.setUint32(0, 4, true)), /version .*is 4/, "v4");
    await rejects(
      patched(8, (v) => v.setBigUint64(0, 1n << 60n, true)),
      /n_tensors/,
      "tensor count",
    );
    await rejects(
      patched(16, (v) => v.setBigUint64(0, 1n << 40n, true)),
      /n_tensors\/n_kv/,
      "kv count",
    );
    await rejects(
      patched(24, (v) => v.setBigUint64(0, 1n << 60n, true)),
      /key 0 length/,
      "string length",
    );
    await rejects(bytes.subarray(0, 100), /needs \d+ bytes|more than/, "truncated header");
    await rejects(bytes.subarray(0, bytes.length - 1000), /past the end/, "truncated data");
    const down = infoOf("blk.0.ffn_down.weight");
    const downType = down + 4 + 16; // n_dims, two dims
    await rejects(patched(downType, (v) => v.setUint32(0, 99, true)), /type .*99/, "type id");
    await rejects(
      patched(downType + 4, (v) => v.setBigUint64(0, 33n, true)),
      /alignment/,
      "misaligned",
    );
    const up = infoOf("blk.0.ffn_up.weight");
    const downOffset = new DataView(bytes.buffer).getBigUint64(downType + 4, true);
    await rejects(
      patched(up + 4 + 16 + 4, (v) => v.setBigUint64(0, downOffset, true)),
      /overlaps/,
      "overlap",
    );
    await rejects(patched(down, (v) => v.setUint32(0, 7, true)), /n_dims .*7/, "n_dims");
  },
});

Deno.test({
  name:
    "a fuzzer's flipped, truncated and inflated GGUF files parse or fail cleanly, never hang or crash",
  ignore: !ready,
  fn: async () => {
    const { bytes } = await fixtureBytes();
    const rand = mulberry32(2026);
    const header = 1200; // mutate where the structure is
    for (let i = 0; i < 300; i++) {
      const copy = bytes.slice();
      const kind = i % 3;
      if (kind === 0) {
        for (let f = 0; f < 1 + (i % 4); f++) {
          copy[Math.floor(rand() * header)] ^= 1 << Math.floor(rand() * 8);
        }
      } else if (kind === 1) {
        const end = Math.floor(rand() * copy.length);
        await check(copy.subarray(0, end), `truncated at ${end}`);
        continue;
      } else {
        const at = Math.floor(rand() * (header - 8));
        new DataView(copy.buffer).setBigUint64(
          at,
          BigInt(Math.floor(rand() * 2 ** 52)) << 8n,
          true,
        );
      }
      await check(copy, `mutation ${i}`);
    }
    async function check(file: Uint8Array, what: string) {
      try {
        const parsed = await openGGUF(file);
        for (const t of parsed.tensors) {
          assert.ok(parsed.dataOffset + t.offset + t.bytes <= file.length, what);
        }
      } catch (e) {
        assert.ok(e instanceof TypeError || e instanceof RangeError, `${what}: ${e}`);
        assert.match((e as Error).message, /^Cannot read GGUF: .* at byte \d+/, what);
      }
    }
  },
});

Deno.test("the GGUF tests say why they were skipped", () => {
  if (!ready) {
    // deno-lint-ignore no-console
    console.log(
      `llama.cpp's GGUF functions are unavailable, so the GGUF tests were skipped: ${why}`,
    );
  }
  assert.ok(ready !== null || why.length > 0);
});
