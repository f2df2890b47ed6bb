// Test support: llama.cpp's own GGUF writer and reader (gguf.h in
// libggml-base.so, from the npm package the oracle uses), over Deno's FFI.
// Fixtures are written by llama.cpp, and our parse is compared with its.

import { findLlamaCppLibDir } from "./oracle.ts";
import { initParams } from "./ggml_ffi.ts";
import { pinLibrary } from "./pin_library.ts";

const SYMBOLS = {
  ggml_init: { parameters: [{ struct: ["usize", "pointer", "bool"] }], result: "pointer" },
  ggml_free: { parameters: ["pointer"], result: "void" },
  ggml_new_tensor_2d: { parameters: ["pointer", "i32", "i64", "i64"], result: "pointer" },
  ggml_set_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  ggml_type_size: { parameters: ["i32"], result: "usize" },
  ggml_blck_size: { parameters: ["i32"], result: "i64" },
  gguf_init_empty: { parameters: [], result: "pointer" },
  gguf_init_from_file: {
    parameters: ["buffer", { struct: ["bool", "pointer"] }],
    result: "pointer",
  },
  gguf_free: { parameters: ["pointer"], result: "void" },
  gguf_set_val_u8: { parameters: ["pointer", "buffer", "u8"], result: "void" },
  gguf_set_val_i8: { parameters: ["pointer", "buffer", "i8"], result: "void" },
  gguf_set_val_u16: { parameters: ["pointer", "buffer", "u16"], result: "void" },
  gguf_set_val_i16: { parameters: ["pointer", "buffer", "i16"], result: "void" },
  gguf_set_val_u32: { parameters: ["pointer", "buffer", "u32"], result: "void" },
  gguf_set_val_i32: { parameters: ["pointer", "buffer", "i32"], result: "void" },
  gguf_set_val_f32: { parameters: ["pointer", "buffer", "f32"], result: "void" },
  gguf_set_val_u64: { parameters: ["pointer", "buffer", "u64"], result: "void" },
  gguf_set_val_i64: { parameters: ["pointer", "buffer", "i64"], result: "void" },
  gguf_set_val_f64: { parameters: ["pointer", "buffer", "f64"], result: "void" },
  gguf_set_val_bool: { parameters: ["pointer", "buffer", "bool"], result: "void" },
  gguf_set_val_str: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  gguf_set_arr_data: {
    parameters: ["pointer", "buffer", "i32", "buffer", "usize"],
    result: "void",
  },
  gguf_set_arr_str: { parameters: ["pointer", "buffer", "buffer", "usize"], result: "void" },
  gguf_add_tensor: { parameters: ["pointer", "pointer"], result: "void" },
  gguf_set_tensor_data: { parameters: ["pointer", "buffer", "buffer"], result: "void" },
  gguf_write_to_file: { parameters: ["pointer", "buffer", "bool"], result: "bool" },
  gguf_get_version: { parameters: ["pointer"], result: "u32" },
  gguf_get_alignment: { parameters: ["pointer"], result: "usize" },
  gguf_get_data_offset: { parameters: ["pointer"], result: "usize" },
  gguf_get_n_kv: { parameters: ["pointer"], result: "i64" },
  gguf_get_key: { parameters: ["pointer", "i64"], result: "pointer" },
  gguf_get_kv_type: { parameters: ["pointer", "i64"], result: "i32" },
  gguf_get_arr_type: { parameters: ["pointer", "i64"], result: "i32" },
  gguf_get_arr_n: { parameters: ["pointer", "i64"], result: "usize" },
  gguf_get_n_tensors: { parameters: ["pointer"], result: "i64" },
  gguf_get_tensor_name: { parameters: ["pointer", "i64"], result: "pointer" },
  gguf_get_tensor_offset: { parameters: ["pointer", "i64"], result: "usize" },
  gguf_get_tensor_type: { parameters: ["pointer", "i64"], result: "i32" },
  gguf_get_tensor_size: { parameters: ["pointer", "i64"], result: "usize" },
} as const;

const cstr = (s: string) => new TextEncoder().encode(`${s}\0`);

/** A tensor to write: name, ggml type id, ne0 (contiguous) and ne1, and its bytes. */
export interface FixtureTensor {
  name: string;
  type: number;
  ne0: number;
  ne1: number;
  data: Uint8Array;
}

/** What llama.cpp's reader says of a file. */
export interface LlamaView {
  version: number;
  alignment: number;
  dataOffset: number;
  kv: { key: string; type: number; arrType?: number; arrN?: number }[];
  tensors: { name: string; offset: number; type: number; size: number }[];
}

/** llama.cpp's GGUF writer and reader, and its type sizes. */
export interface LlamaGguf {
  typeSize(type: number): number;
  blockSize(type: number): number;
  write(path: string, tensors: FixtureTensor[], alignment?: number): void;
  read(path: string): LlamaView | null;
  close(): void;
}

/** llama.cpp's GGUF functions, or the reason its libraries do not load. */
export async function llamaGguf(): Promise<LlamaGguf | string> {
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    const dir = await findLlamaCppLibDir();
    pinLibrary(`${dir}/libggml-base.so`);
    lib = Deno.dlopen(`${dir}/libggml-base.so`, SYMBOLS);
  } catch (error) {
    return (error as Error).message;
  }
  const s = lib.symbols;
  return {
    typeSize: (type: number) => Number(s.ggml_type_size(type)),
    blockSize: (type: number) => Number(s.ggml_blck_size(type)),
    /** Writes a GGUF file with llama.cpp's writer: every metadata value type, arrays, the tensors. */
    write(path: string, tensors: FixtureTensor[], alignment?: number): void {
      const ctx = s.gguf_init_empty()!;
      const k = cstr;
      s.gguf_set_val_str(ctx, k("general.architecture"), cstr("llama"));
      s.gguf_set_val_u8(ctx, k("test.u8"), 200);
      s.gguf_set_val_i8(ctx, k("test.i8"), -100);
      s.gguf_set_val_u16(ctx, k("test.u16"), 60000);
      s.gguf_set_val_i16(ctx, k("test.i16"), -30000);
      s.gguf_set_val_u32(ctx, k("test.u32"), 4000000000);
      s.gguf_set_val_i32(ctx, k("test.i32"), -2000000000);
      s.gguf_set_val_f32(ctx, k("test.f32"), 0.1);
      s.gguf_set_val_u64(ctx, k("test.u64"), 18000000000000000000n);
      s.gguf_set_val_i64(ctx, k("test.i64"), -9000000000000000000n);
      s.gguf_set_val_f64(ctx, k("test.f64"), Math.PI);
      s.gguf_set_val_bool(ctx, k("test.bool"), true);
      s.gguf_set_val_str(ctx, k("test.utf8"), cstr("Q5_K ✓ ünïcødé"));
      s.gguf_set_arr_data(ctx, k("test.arr_i32"), 5, new Int32Array([1, -2, 3]), 3n);
      s.gguf_set_arr_data(ctx, k("test.arr_f32"), 6, new Float32Array([0.5, -1.25]), 2n);
      s.gguf_set_arr_data(ctx, k("test.arr_empty"), 4, new Uint32Array(0), 0n);
      const strings = ["<s>", "</s>", "hello"].map(cstr);
      const pointers = new BigUint64Array(
        strings.map((b) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)))),
      );
      s.gguf_set_arr_str(ctx, k("tokenizer.ggml.tokens"), pointers, BigInt(strings.length));
      if (alignment !== undefined) s.gguf_set_val_u32(ctx, k("general.alignment"), alignment);
      const mem = 1 << 20;
      const gctx = s.ggml_init(initParams(mem, true))!;
      for (const t of tensors) {
        const tensor = s.ggml_new_tensor_2d(gctx, t.type, BigInt(t.ne0), BigInt(t.ne1))!;
        s.ggml_set_name(tensor, cstr(t.name));
        s.gguf_add_tensor(ctx, tensor);
        s.gguf_set_tensor_data(ctx, cstr(t.name), t.data);
      }
      const ok = s.gguf_write_to_file(ctx, cstr(path), false);
      s.ggml_free(gctx);
      s.gguf_free(ctx);
      if (!ok) throw new Error(`gguf_write_to_file failed for ${path}`);
    },
    /** Reads a file with llama.cpp's reader (null: llama.cpp refused it). */
    read(path: string): LlamaView | null {
      const ctx = s.gguf_init_from_file(cstr(path), new Uint8Array(16));
      if (ctx === null) return null;
      const str = (p: Deno.PointerValue) => Deno.UnsafePointerView.getCString(p!);
      const kv = [];
      for (let i = 0n; i < s.gguf_get_n_kv(ctx); i++) {
        const type = s.gguf_get_kv_type(ctx, i);
        kv.push({
          key: str(s.gguf_get_key(ctx, i)),
          type,
          ...(type === 9
            ? { arrType: s.gguf_get_arr_type(ctx, i), arrN: Number(s.gguf_get_arr_n(ctx, i)) }
            : {}),
        });
      }
      const tensors = [];
      for (let i = 0n; i < s.gguf_get_n_tensors(ctx); i++) {
        tensors.push({
          name: str(s.gguf_get_tensor_name(ctx, i)),
          offset: Number(s.gguf_get_tensor_offset(ctx, i)),
          type: s.gguf_get_tensor_type(ctx, i),
          size: Number(s.gguf_get_tensor_size(ctx, i)),
        });
      }
      const view = {
        version: s.gguf_get_version(ctx),
        alignment: Number(s.gguf_get_alignment(ctx)),
        dataOffset: Number(s.gguf_get_data_offset(ctx)),
        kv,
        tensors,
      };
      s.gguf_free(ctx);
      return view;
    },
    close: () => lib.close(),
  };
}
