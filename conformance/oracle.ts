/**
 * llama.cpp itself, loaded over FFI from the prebuilt libraries in the npm
 * package `@node-llama-cpp/linux-x64`: the arbiter every kernel is checked
 * against.
 *
 * @module
 */

import { Q5K_BLOCK_BYTES, Q5K_BLOCK_WEIGHTS, Q5K_GGML_TYPE } from "../kernels/q5k_format.ts";
import { pinLibrary } from "./pin_library.ts";
import { GGML_GRAPH_SYMBOLS, GGML_TYPE_F32, GGML_TYPE_I32, initParams } from "./ggml_ffi.ts";

/** The llama.cpp package pinned in deno.json (its libraries are llama.cpp release v0.5.0 builds). */
export const ORACLE_PACKAGE = "@node-llama-cpp/linux-x64@3.22.1";

const BASE_SYMBOLS = {
  ...GGML_GRAPH_SYMBOLS,
  ggml_new_graph: { parameters: ["pointer"], result: "pointer" },
  ggml_get_data: { parameters: ["pointer"], result: "pointer" },
  ggml_nbytes: { parameters: ["pointer"], result: "usize" },
  ggml_graph_overhead: { parameters: [], result: "usize" },
  dequantize_row_q5_K: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  quantize_row_q5_K_ref: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  ggml_fp16_to_fp32_row: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  ggml_fp32_to_fp16_row: { parameters: ["buffer", "buffer", "i64"], result: "void" },
} as const;

const CPU_SYMBOLS = {
  ggml_cpu_init: { parameters: [], result: "void" },
  ggml_graph_compute_with_ctx: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
} as const;

/** llama.cpp's Q5_K functions, callable from TypeScript. */
export interface LlamaCppOracle {
  /** Folder the libraries were loaded from. */
  readonly libDir: string;
  /** `dequantize_row_q5_K` over the whole blob. */
  dequantize(blob: Uint8Array): Float32Array;
  /** `quantize_row_q5_K_ref` over the whole array. */
  quantize(x: Float32Array): Uint8Array;
  /** `ggml_fp16_to_fp32_row`. */
  f16ToF32(bits: Uint16Array): Float32Array;
  /** `ggml_fp32_to_fp16_row`. */
  f32ToF16(x: Float32Array): Uint16Array;
  /** y = x·Wᵀ via `ggml_mul_mat` on the CPU backend (activations go through Q8_K). */
  mulMat(weights: Uint8Array, n: number, k: number, x: Float32Array, m: number): Float32Array;
  /** The rows `ids` of a Q5_K table via `ggml_get_rows` on the CPU backend. */
  getRows(table: Uint8Array, rows: number, k: number, ids: Int32Array): Float32Array;
  /** Unloads the libraries. */
  close(): void;
}

/** Thrown when llama.cpp's libraries cannot be loaded on this machine. */
export class OracleUnavailableError extends Error {
  override name = "OracleUnavailableError";
}

/**
 * Finds the folder that holds `libggml-base` for this platform.
 *
 * @returns The folder path.
 * @throws {OracleUnavailableError} Where no package for this platform exists or it fails to load.
 */
export async function findLlamaCppLibDir(): Promise<string> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new OracleUnavailableError(
      `llama.cpp oracle is only wired for linux x86_64 (${ORACLE_PACKAGE}); this is ${Deno.build.os} ${Deno.build.arch}: use the committed vectors`,
    );
  }
  try {
    const mod = await import("@node-llama-cpp/linux-x64");
    return `${mod.getBinsDir().binsDir}/linux-x64`;
  } catch (error) {
    throw new OracleUnavailableError(
      `Cannot load ${ORACLE_PACKAGE} (run \`deno install\` with access to the npm registry): ${
        (error as Error).message
      }`,
    );
  }
}

/**
 * Loads llama.cpp's libraries and returns its Q5_K functions.
 *
 * @param libDir Folder with `libggml-base.so` and `libggml-cpu-x64.so`; found from the npm package when omitted.
 * @returns The oracle; call `close()` when done.
 * @throws {OracleUnavailableError} If the libraries cannot be found or opened.
 */
export async function loadLlamaCpp(libDir?: string): Promise<LlamaCppOracle> {
  const dir = libDir ?? await findLlamaCppLibDir();
  let base: Deno.DynamicLibrary<typeof BASE_SYMBOLS>;
  let cpu: Deno.DynamicLibrary<typeof CPU_SYMBOLS>;
  try {
    pinLibrary(`${dir}/libggml-base.so`);
    pinLibrary(`${dir}/libggml-cpu-x64.so`);
    base = Deno.dlopen(`${dir}/libggml-base.so`, BASE_SYMBOLS);
    // The portable build, not a per-ISA one, so results match on every x86-64.
    cpu = Deno.dlopen(`${dir}/libggml-cpu-x64.so`, CPU_SYMBOLS);
  } catch (error) {
    throw new OracleUnavailableError(
      `Cannot open llama.cpp's libraries in ${dir}: ${(error as Error).message}`,
    );
  }
  const libc = Deno.dlopen("libc.so.6", {
    memcpy: { parameters: ["pointer", "buffer", "usize"], result: "pointer" },
  });
  cpu.symbols.ggml_cpu_init();
  const b = base.symbols;

  function withContext<T>(memSize: number, body: (ctx: Deno.PointerObject) => T): T {
    const ctx = b.ggml_init(initParams(memSize, false));
    if (ctx === null) throw new Error(`ggml_init failed for ${memSize} bytes`);
    try {
      return body(ctx);
    } finally {
      b.ggml_free(ctx);
    }
  }

  // Tensor data moves by copies (memcpy in, copyInto out) rather than through
  // ArrayBuffers over ggml's memory, which would outlive ggml_free().
  function setTensor(tensor: Deno.PointerObject, data: ArrayBufferView): void {
    const size = Number(b.ggml_nbytes(tensor));
    if (size !== data.byteLength) {
      throw new Error(`ggml tensor holds ${size} bytes, data has ${data.byteLength}`);
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    libc.symbols.memcpy(b.ggml_get_data(tensor), bytes, BigInt(size));
  }

  function compute(ctx: Deno.PointerObject, out: Deno.PointerObject): Float32Array {
    const graph = b.ggml_new_graph(ctx);
    b.ggml_build_forward_expand(graph, out);
    const status = cpu.symbols.ggml_graph_compute_with_ctx(ctx, graph, 1);
    if (status !== 0) throw new Error(`ggml_graph_compute failed with status ${status}`);
    const y = new Float32Array(Number(b.ggml_nbytes(out)) / 4);
    new Deno.UnsafePointerView(b.ggml_get_data(out)!).copyInto(y);
    return y;
  }

  const overhead = Number(b.ggml_graph_overhead()) + 8 * Number(b.ggml_tensor_overhead());

  return {
    libDir: dir,
    dequantize(blob) {
      const y = new Float32Array((blob.length / Q5K_BLOCK_BYTES) * Q5K_BLOCK_WEIGHTS);
      b.dequantize_row_q5_K(blob, y, BigInt(y.length));
      return y;
    },
    quantize(x) {
      const out = new Uint8Array((x.length / Q5K_BLOCK_WEIGHTS) * Q5K_BLOCK_BYTES);
      b.quantize_row_q5_K_ref(x, out, BigInt(x.length));
      return out;
    },
    f16ToF32(bits) {
      const y = new Float32Array(bits.length);
      b.ggml_fp16_to_fp32_row(bits, y, BigInt(bits.length));
      return y;
    },
    f32ToF16(x) {
      const bits = new Uint16Array(x.length);
      b.ggml_fp32_to_fp16_row(x, bits, BigInt(x.length));
      return bits;
    },
    mulMat(weights, n, k, x, m) {
      // Weights, activations, output, and the Q8_K copy of x the CPU backend makes.
      const mem = weights.length + 2 * x.byteLength + 4 * m * n + overhead + (1 << 20);
      return withContext(mem, (ctx) => {
        const w = b.ggml_new_tensor_2d(ctx, Q5K_GGML_TYPE, BigInt(k), BigInt(n))!;
        const a = b.ggml_new_tensor_2d(ctx, GGML_TYPE_F32, BigInt(k), BigInt(m))!;
        setTensor(w, weights);
        setTensor(a, x);
        return compute(ctx, b.ggml_mul_mat(ctx, w, a)!);
      });
    },
    getRows(table, rows, k, ids) {
      const mem = table.length + ids.byteLength + 4 * ids.length * k + overhead + (1 << 20);
      return withContext(mem, (ctx) => {
        const t = b.ggml_new_tensor_2d(ctx, Q5K_GGML_TYPE, BigInt(k), BigInt(rows))!;
        const i = b.ggml_new_tensor_1d(ctx, GGML_TYPE_I32, BigInt(ids.length))!;
        setTensor(t, table);
        setTensor(i, ids);
        return compute(ctx, b.ggml_get_rows(ctx, t, i)!);
      });
    },
    close() {
      libc.close();
      cpu.close();
      base.close();
    },
  };
}
