/**
 * The live llama.cpp oracle for tests: loaded once, or the reason it is
 * missing (tests that need it are then ignored and the reason is printed).
 *
 * @module
 */

import { type LlamaCppOracle, loadLlamaCpp } from "./oracle.ts";

let loaded: LlamaCppOracle | null = null;
/** Why the oracle is unavailable, or "" when it loaded. */
export let oracleMissing = "";
try {
  loaded = await loadLlamaCpp();
} catch (error) {
  oracleMissing = (error as Error).message;
  // deno-lint-ignore no-console
  console.warn(`llama.cpp oracle unavailable, live-oracle tests are skipped: ${oracleMissing}`);
}

/** The oracle, or null; pair with `ignore: oracle === null` in Deno.test. */
export const oracle: LlamaCppOracle | null = loaded;

// Each test module loads its own copy; release the handles when it unloads.
globalThis.addEventListener("unload", () => loaded?.close());
