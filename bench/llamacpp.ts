/**
 * llama.cpp's own MUL_MAT and GET_ROWS timed in the same run, through ggml's
 * backend API over FFI: its Vulkan backend when `libggml-vulkan.so` is found,
 * its CPU backend otherwise. Like test-backend-ops, several ops go in one graph
 * to amortize launch cost; the time per op is the graph's wall time divided by
 * the op count (ggml exposes no GPU timestamps).
 *
 * @module
 */

import { Q5K_GGML_TYPE } from "../kernels/q5k_format.ts";
import { pinLibrary } from "../conformance/pin_library.ts";
import {
  GGML_GRAPH_SYMBOLS,
  GGML_TYPE_F32,
  GGML_TYPE_I32,
  initParams,
} from "../conformance/ggml_ffi.ts";

const BASE = {
  ...GGML_GRAPH_SYMBOLS,
  ggml_new_graph_custom: { parameters: ["pointer", "usize", "bool"], result: "pointer" },
  ggml_graph_overhead_custom: { parameters: ["usize", "bool"], result: "usize" },
  ggml_backend_alloc_ctx_tensors: { parameters: ["pointer", "pointer"], result: "pointer" },
  ggml_backend_buffer_free: { parameters: ["pointer"], result: "void" },
  ggml_backend_tensor_set: { parameters: ["pointer", "buffer", "usize", "usize"], result: "void" },
  ggml_backend_graph_compute: { parameters: ["pointer", "pointer"], result: "i32" },
  ggml_backend_synchronize: { parameters: ["pointer"], result: "void" },
  ggml_backend_free: { parameters: ["pointer"], result: "void" },
  ggml_backend_name: { parameters: ["pointer"], result: "pointer" },
} as const;

const VULKAN = {
  ggml_backend_vk_init: { parameters: ["usize"], result: "pointer" },
  ggml_backend_vk_get_device_count: { parameters: [], result: "i32" },
} as const;

const CPU = {
  ggml_backend_cpu_init: { parameters: [], result: "pointer" },
  ggml_backend_cpu_set_n_threads: { parameters: ["pointer", "i32"], result: "void" },
} as const;

/** Where to look for the libraries, in order. */
export async function ggmlLibCandidates(explicit?: string): Promise<string[]> {
  if (explicit) return [explicit];
  const dirs: string[] = [];
  for (const pkg of ["@node-llama-cpp/linux-x64-vulkan", "@node-llama-cpp/linux-x64"]) {
    try {
      const mod = await import(pkg);
      const { binsDir } = mod.getBinsDir();
      dirs.push(`${binsDir}/${pkg.split("/")[1]}`);
    } catch {
      // Not installed or not resolvable; try the next.
    }
  }
  return dirs;
}

/** A ggml backend ready to time ops. */
export interface GgmlBench {
  /** e.g. "Vulkan0" or "CPU". */
  backendName: string;
  libDir: string;
  /**
   * Wall-clock µs per MUL_MAT of an n×k Q5_K weight by m×k f32 activations;
   * the graph's ops cycle over `copies` weight tensors, as the bench does.
   */
  mulMat(
    weights: Uint8Array,
    n: number,
    k: number,
    m: number,
    minTimeMs: number,
    copies?: number,
  ): number;
  /** Wall-clock µs per GET_ROWS of `ids` from a rows×k Q5_K table. */
  getRows(table: Uint8Array, rows: number, k: number, ids: Int32Array, minTimeMs: number): number;
  close(): void;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens ggml's Vulkan backend (device 0) where `libggml-vulkan.so` sits in
 * the folder, else its CPU backend.
 *
 * @throws {Error} If no folder holds the libraries, naming where it looked.
 */
export async function openGgmlBench(libDir?: string): Promise<GgmlBench> {
  const dirs = await ggmlLibCandidates(libDir);
  const dir = dirs.find((d) => exists(`${d}/libggml-base.so`));
  if (!dir) {
    throw new Error(
      `Cannot find llama.cpp's libggml-base.so (looked in: ${
        dirs.join(", ") || "no installed package"
      }); pass --ggml-lib DIR`,
    );
  }
  for (const lib of ["libggml-base.so", "libggml-vulkan.so", "libggml-cpu-x64.so"]) {
    if (exists(`${dir}/${lib}`)) pinLibrary(`${dir}/${lib}`);
  }
  const base = Deno.dlopen(`${dir}/libggml-base.so`, BASE);
  const b = base.symbols;
  let backend: Deno.PointerValue = null;
  let close: () => void;
  if (exists(`${dir}/libggml-vulkan.so`)) {
    const vk = Deno.dlopen(`${dir}/libggml-vulkan.so`, VULKAN);
    if (vk.symbols.ggml_backend_vk_get_device_count() > 0) {
      backend = vk.symbols.ggml_backend_vk_init(0n);
    }
    close = () => vk.close();
  } else {
    close = () => {};
  }
  if (backend === null) {
    const cpu = Deno.dlopen(`${dir}/libggml-cpu-x64.so`, CPU);
    backend = cpu.symbols.ggml_backend_cpu_init();
    cpu.symbols.ggml_backend_cpu_set_n_threads(backend, navigator.hardwareConcurrency);
    const prev = close;
    close = () => {
      prev();
      cpu.close();
    };
  }
  if (backend === null) throw new Error(`ggml could not start a backend from ${dir}`);
  const be = backend;
  const backendName = new Deno.UnsafePointerView(b.ggml_backend_name(be)!).getCString();

  /** Builds `ops` copies of an op in one graph, allocates it on the backend, times it. */
  function timeGraph(
    ops: number,
    build: (ctx: Deno.PointerObject) => Deno.PointerObject[],
    upload: () => void,
    minTimeMs: number,
  ): number {
    const graphSize = 2 * ops + 16;
    const mem = Number(b.ggml_tensor_overhead()) * (2 * ops + 8) +
      Number(b.ggml_graph_overhead_custom(BigInt(graphSize), false));
    // no_alloc: the tensors live in the backend's buffer.
    const ctx = b.ggml_init(initParams(mem, true))!;
    try {
      const outs = build(ctx);
      const graph = b.ggml_new_graph_custom(ctx, BigInt(graphSize), false);
      for (const o of outs) b.ggml_build_forward_expand(graph, o);
      const buffer = b.ggml_backend_alloc_ctx_tensors(ctx, be);
      if (buffer === null) throw new Error("ggml could not allocate the graph's tensors");
      try {
        upload();
        b.ggml_backend_graph_compute(be, graph); // warm-up (pipelines, caches)
        b.ggml_backend_synchronize(be);
        const times: number[] = [];
        const start = performance.now();
        while (times.length < 3 || (performance.now() - start < minTimeMs && times.length < 1000)) {
          const t0 = performance.now();
          b.ggml_backend_graph_compute(be, graph);
          b.ggml_backend_synchronize(be);
          times.push(((performance.now() - t0) * 1000) / ops);
        }
        times.sort((x, y) => x - y);
        return times[Math.floor(times.length / 2)];
      } finally {
        b.ggml_backend_buffer_free(buffer);
      }
    } finally {
      b.ggml_free(ctx);
    }
  }

  return {
    backendName,
    libDir: dir,
    mulMat(weights, n, k, m, minTimeMs, copies = 1) {
      const ws: Deno.PointerObject[] = [];
      let x: Deno.PointerObject;
      const xData = new Float32Array(m * k).fill(0.01);
      const ops = Math.max(20, copies);
      return timeGraph(ops, (ctx) => {
        for (let i = 0; i < copies; i++) {
          ws.push(b.ggml_new_tensor_2d(ctx, Q5K_GGML_TYPE, BigInt(k), BigInt(n))!);
        }
        x = b.ggml_new_tensor_2d(ctx, GGML_TYPE_F32, BigInt(k), BigInt(m))!;
        return Array.from({ length: ops }, (_, i) => b.ggml_mul_mat(ctx, ws[i % copies], x)!);
      }, () => {
        for (const w of ws) b.ggml_backend_tensor_set(w, weights, 0n, BigInt(weights.length));
        b.ggml_backend_tensor_set(x, xData, 0n, BigInt(xData.byteLength));
      }, minTimeMs);
    },
    getRows(table, rows, k, ids, minTimeMs) {
      let t: Deno.PointerObject;
      let i: Deno.PointerObject;
      const ops = ids.length * k > 1 << 22 ? 10 : 20;
      return timeGraph(ops, (ctx) => {
        t = b.ggml_new_tensor_2d(ctx, Q5K_GGML_TYPE, BigInt(k), BigInt(rows))!;
        i = b.ggml_new_tensor_1d(ctx, GGML_TYPE_I32, BigInt(ids.length))!;
        return Array.from({ length: ops }, () => b.ggml_get_rows(ctx, t, i)!);
      }, () => {
        b.ggml_backend_tensor_set(t, table, 0n, BigInt(table.length));
        b.ggml_backend_tensor_set(i, ids, 0n, BigInt(ids.byteLength));
      }, minTimeMs);
    },
    close() {
      b.ggml_backend_free(be);
      close();
      base.close();
    },
  };
}
