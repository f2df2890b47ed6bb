/**
 * `deno task fixture [out.gguf]`: writes a small model-shaped GGUF file with
 * llama.cpp's own writer (libggml-base over FFI): two blocks of a Llama-like
 * layout whose weights are Q5_K (quantized by this library's port of
 * llama.cpp's quantize_row_q5_K_ref) beside Q6_K and F32 tensors, so `info
 * --gguf` can be tried without downloading a model.
 *
 * @module
 */

import { type FixtureTensor, llamaGguf } from "./llama_gguf.ts";
import { GGML_TYPES } from "../gguf/ggml_types.ts";
import { quantizeQ5K } from "../kernels/quantize.ts";
import { mulberry32, normalF32 } from "../kernels/_rng.ts";

const Q5_K = 13;
const Q6_K = 14;
const F32 = 0;

/** The tensors of the fixture: dims as ggml's ne0 (K), ne1 (N). */
export function fixtureLayout(): FixtureTensor[] {
  const [dim, ffn, vocab, kv] = [512, 1536, 1024, 256];
  let seed = 1;
  const q5k = (name: string, k: number, n: number): FixtureTensor => ({
    name,
    type: Q5_K,
    ne0: k,
    ne1: n,
    data: quantizeQ5K(normalF32(k * n, seed++).map((v) => v * 0.02)),
  });
  const other = (name: string, type: number, k: number, n: number): FixtureTensor => {
    const t = GGML_TYPES.get(type)!;
    const rand = mulberry32(seed++);
    const data = type === F32
      ? new Uint8Array(new Float32Array(k * n).fill(1).buffer)
      : Uint8Array.from({ length: (k * n / t.blockSize) * t.typeSize }, () => rand() * 256);
    return { name, type, ne0: k, ne1: n, data };
  };
  const tensors = [q5k("token_embd.weight", dim, vocab)];
  for (let b = 0; b < 2; b++) {
    tensors.push(
      other(`blk.${b}.attn_norm.weight`, F32, dim, 1),
      q5k(`blk.${b}.attn_q.weight`, dim, dim),
      q5k(`blk.${b}.attn_k.weight`, dim, kv),
      q5k(`blk.${b}.attn_v.weight`, dim, kv),
      q5k(`blk.${b}.attn_output.weight`, dim, dim),
      other(`blk.${b}.ffn_norm.weight`, F32, dim, 1),
      q5k(`blk.${b}.ffn_gate.weight`, dim, ffn),
      q5k(`blk.${b}.ffn_up.weight`, dim, ffn),
      other(`blk.${b}.ffn_down.weight`, Q6_K, ffn, dim),
    );
  }
  tensors.push(other("output_norm.weight", F32, dim, 1), other("output.weight", Q6_K, dim, vocab));
  return tensors;
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "fixture.gguf";
  const llama = await llamaGguf();
  if (typeof llama === "string") {
    // deno-lint-ignore no-console
    console.error(`error: llama.cpp's GGUF writer is unavailable: ${llama}`);
    Deno.exit(1);
  }
  llama.write(out, fixtureLayout());
  llama.close();
  // deno-lint-ignore no-console
  console.log(
    `wrote ${out} (${(Deno.statSync(out).size / 1e6).toFixed(1)} MB) with llama.cpp's writer`,
  );
}
