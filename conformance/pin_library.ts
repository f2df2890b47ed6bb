/**
 * Keeps a shared library loaded for the life of the process.
 *
 * `deno test` runs each test file in its own worker and unloads the worker's
 * `Deno.dlopen` libraries when it ends. ggml's libraries install a
 * std::terminate handler in a static initializer and assert that the previous
 * handler was not their own (ggml.cpp: `GGML_ASSERT(prev !=
 * ggml_uncaught_exception)`), so loading them again at the same address after
 * an unload aborts the process. Opening them once more through libc's dlopen
 * with RTLD_NODELETE keeps them resident, so later `Deno.dlopen` calls reuse the
 * loaded copy and its initializers never run twice. The libraries are opened
 * RTLD_LOCAL, as Deno.dlopen would, so their C++ symbols stay out of the way of
 * libraries loaded later in the same process.
 *
 * @module
 */

const RTLD_NOW = 0x2;
const RTLD_NODELETE = 0x1000;

/** Pins `path` (Linux/glibc only; a no-op elsewhere). Returns whether it was pinned. */
export function pinLibrary(path: string): boolean {
  if (Deno.build.os !== "linux") return false;
  let libc: Deno.DynamicLibrary<{ dlopen: { parameters: ["buffer", "i32"]; result: "pointer" } }>;
  try {
    libc = Deno.dlopen("libc.so.6", {
      dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
    });
  } catch {
    return false;
  }
  const handle = libc.symbols.dlopen(
    new TextEncoder().encode(`${path}\0`),
    RTLD_NOW | RTLD_NODELETE,
  );
  libc.close();
  return handle !== null;
}
