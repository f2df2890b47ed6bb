/**
 * `deno task bench:gguf-load [FILE] [--gb N]`: how fast a big GGUF file
 * opens and uploads. Writes (once, unless FILE exists) a Llama-3-8B-shaped
 * file of about N GB (default 1) — Q5_K attention and FFN weights and
 * embedding, Q6_K ffn_down, F32 norms — then prints the header-and-table
 * parse time (median of 20) with how many bytes the parse read, and the
 * host → GPU upload rate of every Q5_K tensor, one at a time, beside the
 * file read rate. A benchmark that prints figures, not a test.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type ByteSource, openGGUF, pathSource } from "../gguf/reader.ts";
import { type StreamTensor, tensorBytes, writeGGUF } from "./gguf_writer.ts";
import { measureUpload } from "./gguf_plan.ts";
import { makeQ5KBlob } from "../kernels/make_blob.ts";
import { requestDevice } from "../kernels/device.ts";
import { mulberry32 } from "../kernels/_rng.ts";

// deno-lint-ignore no-console
const out = (s: string) => console.log(s);

const Q5_K = 13;
const Q6_K = 14;
const F32 = 0;

/** Llama-3-8B's shapes, with as many blocks as fit `gb` gigabytes (a 32000-row vocabulary). */
export function loadLayout(gb: number): StreamTensor[] {
  const [dim, ffn, kv, vocab] = [4096, 14336, 1024, 32000];
  // Random valid Q5_K blocks, one 1 MB pattern repeated (176 × 6000 bytes).
  const q5k = makeQ5KBlob(6000, 256, { seed: 5 });
  const rand = mulberry32(6);
  const noise = Uint8Array.from({ length: 210 * 5000 }, () => rand() * 256);
  const ones = new Uint8Array(new Float32Array(dim).fill(1).buffer);
  const t = (name: string, type: number, ne0: number, ne1: number): StreamTensor => ({
    name,
    type,
    ne0,
    ne1,
    chunk: () => (type === Q5_K ? q5k : type === Q6_K ? noise : ones),
  });
  const tensors = [t("token_embd.weight", Q5_K, dim, vocab)];
  const block = (b: number) => [
    t(`blk.${b}.attn_norm.weight`, F32, dim, 1),
    t(`blk.${b}.attn_q.weight`, Q5_K, dim, dim),
    t(`blk.${b}.attn_k.weight`, Q5_K, dim, kv),
    t(`blk.${b}.attn_v.weight`, Q5_K, dim, kv),
    t(`blk.${b}.attn_output.weight`, Q5_K, dim, dim),
    t(`blk.${b}.ffn_norm.weight`, F32, dim, 1),
    t(`blk.${b}.ffn_gate.weight`, Q5_K, dim, ffn),
    t(`blk.${b}.ffn_up.weight`, Q5_K, dim, ffn),
    t(`blk.${b}.ffn_down.weight`, Q6_K, ffn, dim),
  ];
  const bytes = (ts: StreamTensor[]) =>
    ts.reduce((s, x) => s + tensorBytes(x.type, x.ne0, x.ne1), 0);
  const perBlock = bytes(block(0));
  const blocks = Math.max(1, Math.round((gb * 1e9 - bytes(tensors)) / perBlock));
  for (let b = 0; b < blocks; b++) tensors.push(...block(b));
  tensors.push(t("output_norm.weight", F32, dim, 1));
  return tensors;
}

/** A source that counts what is read through it. */
export function counted(source: ByteSource): ByteSource & { bytesRead: number; end: number } {
  const c = {
    size: source.size,
    bytesRead: 0,
    end: 0,
    read: async (offset: number, length: number) => {
      const b = await source.read(offset, length);
      c.bytesRead += b.length;
      c.end = Math.max(c.end, offset + b.length);
      return b;
    },
    close: () => source.close?.(),
  };
  return c;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { gb: { type: "string" } },
    allowPositionals: true,
  });
  const path = positionals[0] ?? `${Deno.env.get("TMPDIR") ?? "/tmp"}/kquant-load-bench.gguf`;
  const gb = Number(values.gb ?? "1");
  if (!(gb > 0)) throw new RangeError(`--gb must be a positive number, current value is ${gb}`);
  const exists = await Deno.stat(path).then(() => true, () => false);
  if (!exists) {
    const started = performance.now();
    const size = await writeGGUF(path, {
      "general.architecture": "llama",
      "general.name": "kquant load benchmark",
    }, loadLayout(gb));
    out(
      `wrote ${path}: ${(size / 1e9).toFixed(2)} GB in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s`,
    );
  } else out(`using ${path} (exists; delete it to write a new one)`);

  const parses: number[] = [];
  let file;
  let source;
  for (let i = 0; i < 20; i++) {
    source = counted(await pathSource(path));
    const started = performance.now();
    file = await openGGUF(source);
    parses.push(performance.now() - started);
    if (i < 19) source.close?.();
  }
  parses.sort((a, b) => a - b);
  out(
    `header    ${file!.tensors.length} tensors, ${file!.metadata.size} keys: parsed in ${
      parses[10].toFixed(2)
    } ms (median of 20; min ${parses[0].toFixed(2)}), reading ${
      source!.bytesRead
    } bytes (up to byte ${source!.end}; the data section starts at ${file!.dataOffset}) of ${
      (file!.size / 1e9).toFixed(2)
    } GB`,
  );
  const device = await requestDevice();
  const q5k = file!.tensors.filter((t) => t.typeName === "Q5_K");
  const u = await measureUpload(device, file!, q5k);
  out(
    `upload    ${u.tensors} Q5_K tensors, ${(u.bytes / 1e9).toFixed(2)} GB: ${
      u.gbps.toFixed(2)
    } GB/s host → GPU (${
      u.uploadMs.toFixed(0)
    } ms of writeBuffer until the queue is done, one tensor at a time)`,
  );
  out(
    `read      the same bytes from the file: ${(u.bytes / (u.readMs * 1e6)).toFixed(2)} GB/s (${
      u.readMs.toFixed(0)
    } ms; page cache warm after writing)`,
  );
  const info = (await navigator.gpu.requestAdapter())?.info;
  out(`adapter   ${info?.description || info?.device || "(no description)"}`);
  device.destroy();
  file!.source.close?.();
}
