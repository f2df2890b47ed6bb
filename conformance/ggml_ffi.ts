/**
 * The ggml graph-API symbols both the oracle and the llama.cpp benchmark call
 * over FFI, and the `ggml_init_params` struct they pass by value.
 *
 * @module
 */

/** ggml's type ids used here (ggml.h). */
export const GGML_TYPE_F32 = 0;
/** ggml's type id of 32-bit integers. */
export const GGML_TYPE_I32 = 26;

/** Graph-building symbols of libggml-base. */
export const GGML_GRAPH_SYMBOLS = {
  ggml_init: { parameters: [{ struct: ["usize", "pointer", "bool"] }], result: "pointer" },
  ggml_free: { parameters: ["pointer"], result: "void" },
  ggml_new_tensor_1d: { parameters: ["pointer", "i32", "i64"], result: "pointer" },
  ggml_new_tensor_2d: { parameters: ["pointer", "i32", "i64", "i64"], result: "pointer" },
  ggml_mul_mat: { parameters: ["pointer", "pointer", "pointer"], result: "pointer" },
  ggml_get_rows: { parameters: ["pointer", "pointer", "pointer"], result: "pointer" },
  ggml_build_forward_expand: { parameters: ["pointer", "pointer"], result: "void" },
  ggml_tensor_overhead: { parameters: [], result: "usize" },
} as const;

/** `struct ggml_init_params { size_t mem_size; void * mem_buffer; bool no_alloc; }` by value. */
export function initParams(memSize: number, noAlloc: boolean): Uint8Array {
  const params = new Uint8Array(24);
  new DataView(params.buffer).setBigUint64(0, BigInt(memSize), true);
  params[16] = noAlloc ? 1 : 0;
  return params;
}
