/**
 * `serve`: bundles the browser page (`web/page.ts`) and serves it, with the
 * committed vectors, on localhost, so a browser runs the same conformance
 * suite and a latency bench on its own WebGPU (Chrome on a Mac: Metal).
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  bin: "application/octet-stream",
};

/** Bundles `entry` (a path in the repository) for browsers into `out`, with `deno bundle`. */
export async function bundle(entry: string, out: string): Promise<void> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", new URL(entry, ROOT).pathname, "-o", out],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(`deno bundle ${entry} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
}

/** The file a request path maps to, or null (only the page, the bundles and the vectors). */
function fileFor(path: string, dir: string): string | URL | null {
  if (path === "/" || path === "/index.html") return new URL("web/index.html", ROOT);
  if (path === "/page.js") return `${dir}/page.js`;
  if (path === "/examples/naive_q5k.js") return `${dir}/naive_q5k.js`;
  const vector = /^\/vectors\/([\w.-]+\.(?:json|bin))$/.exec(path);
  return vector ? new URL(`conformance/vectors/${vector[1]}`, ROOT) : null;
}

/**
 * Bundles the page and serves it until the signal aborts.
 *
 * @param port The port (0: any free one).
 * @param onListen Called with the page's URL once it is served.
 */
export async function servePage(
  port: number,
  onListen: (url: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kquant-page-" });
  try {
    await bundle("web/page.ts", `${dir}/page.js`);
    // The example implementation, for ?impl=/examples/naive_q5k.js.
    await bundle("examples/naive_q5k.ts", `${dir}/naive_q5k.js`);
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      signal,
      onListen: ({ port }) => onListen(`http://127.0.0.1:${port}/`),
    }, async (request) => {
      const file = fileFor(new URL(request.url).pathname, dir);
      if (!file) return new Response("not found", { status: 404 });
      try {
        const body = await Deno.readFile(file);
        const ext = String(file).split(".").pop()!;
        return new Response(body, { headers: { "content-type": TYPES[ext] ?? "text/plain" } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    });
    await server.finished;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
