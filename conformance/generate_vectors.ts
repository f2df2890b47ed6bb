/**
 * `deno task vectors`: regenerates `conformance/vectors/` from llama.cpp.
 *
 * @module
 */

import { findLlamaCppLibDir, loadLlamaCpp } from "./oracle.ts";
import { buildVectors, VECTORS_DIR } from "./vectors.ts";

/** The llama.cpp release the package's libraries were built from. */
export async function llamaCppRelease(libDir: string): Promise<string> {
  const meta = JSON.parse(await Deno.readTextFile(`${libDir}/_nlcBuildMetadata.json`));
  return String(meta.buildOptions.llamaCpp.release);
}

if (import.meta.main) {
  const libDir = await findLlamaCppLibDir();
  const oracle = await loadLlamaCpp(libDir);
  const files = await buildVectors(oracle, await llamaCppRelease(libDir));
  oracle.close();
  await Deno.remove(VECTORS_DIR, { recursive: true }).catch(() => {});
  await Deno.mkdir(VECTORS_DIR, { recursive: true });
  let total = 0;
  for (const [name, bytes] of files) {
    await Deno.writeFile(new URL(name, VECTORS_DIR), bytes);
    total += bytes.length;
  }
  // deno-lint-ignore no-console
  console.log(
    `wrote ${files.size} files, ${(total / 1e6).toFixed(2)} MB, to ${VECTORS_DIR.pathname}`,
  );
}
