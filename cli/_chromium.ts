// Test support: drives headless Chromium (Debian's chromium-headless-shell,
// Dawn + Tint, SwiftShader) over the Chrome DevTools Protocol with Deno's
// built-in WebSocket: no npm package, nothing downloaded.

/** The Chromium binary, or null where none is installed. */
export function chromiumPath(): string | null {
  for (const name of ["chromium-headless-shell", "chromium", "google-chrome"]) {
    for (const dir of ["/usr/bin", "/usr/local/bin"]) {
      try {
        Deno.statSync(`${dir}/${name}`);
        return `${dir}/${name}`;
      } catch {
        // not there
      }
    }
  }
  return null;
}

/**
 * Opens `url` in headless Chromium with WebGPU on, waits until the page's
 * title is `done` or `error` (at most `timeoutMs`), and returns the text of
 * the elements asked for.
 */
export async function pageText(
  url: string,
  ids: string[],
  timeoutMs: number,
  webgpu = true,
): Promise<{ title: string; text: Record<string, string> }> {
  const port = 9300 + Math.floor(Math.random() * 500);
  const chrome = new Deno.Command(chromiumPath()!, {
    args: [
      "--no-sandbox",
      ...(webgpu ? ["--enable-unsafe-webgpu"] : ["--disable-webgpu"]),
      `--remote-debugging-port=${port}`,
      `--user-data-dir=${await Deno.makeTempDir({ prefix: "kquant-chromium-" })}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    let target: { type: string; webSocketDebuggerUrl: string } | undefined;
    for (let i = 0; i < 100 && !target; i++) {
      try {
        const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
        target = list.find((t: { type: string }) => t.type === "page");
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (!target) throw new Error("Chromium did not open a page to drive");
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    let next = 0;
    const waiting = new Map<number, (value: unknown) => void>();
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      waiting.get(message.id)?.(message.result);
      waiting.delete(message.id);
    };
    const send = (method: string, params: object = {}) =>
      new Promise<{ result?: { value?: string } }>((resolve) => {
        const id = ++next;
        waiting.set(id, resolve as (value: unknown) => void);
        ws.send(JSON.stringify({ id, method, params }));
      });
    await send("Page.navigate", { url });
    const read = `JSON.stringify({ title: document.title, text: Object.fromEntries(${
      JSON.stringify(ids)
    }.map((id) => [id, document.getElementById(id)?.textContent ?? ""])) })`;
    const deadline = Date.now() + timeoutMs;
    let last = { title: "", text: {} as Record<string, string> };
    while (Date.now() < deadline) {
      const r = await send("Runtime.evaluate", { expression: read });
      if (r.result?.value) last = JSON.parse(r.result.value);
      if (last.title === "done" || last.title === "error") break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    ws.close();
    return last;
  } finally {
    chrome.kill();
    await chrome.status;
  }
}
