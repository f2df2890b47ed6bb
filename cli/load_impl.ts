/**
 * Loading `--impl` modules: a path (relative to the working directory) or a
 * URL whose default export is an {@linkcode Implementation}. The module runs
 * with the permissions the user gave Deno.
 *
 * @module
 */

import { checkImplementation, type Implementation } from "../kernels/implementation.ts";

/** An implementation, or why the module could not give one. */
export type Loaded = { impl: Implementation } | { source: string; error: string };

/** Imports `source` and checks its default export; never throws. */
export async function loadImplementation(source: string): Promise<Loaded> {
  let url: string;
  try {
    url = /^[a-z][a-z0-9+.-]*:/i.test(source) && !/^[a-z]:[\\/]/i.test(source)
      ? source
      : new URL(source, `file://${Deno.cwd()}/`).href;
  } catch (error) {
    return { source, error: `not a path or URL: ${(error as Error).message}` };
  }
  try {
    const module = await import(url);
    return { impl: checkImplementation(module.default, source) };
  } catch (error) {
    const e = error as Error;
    return { source, error: `${e.name}: ${e.message.split("\n")[0]}` };
  }
}
