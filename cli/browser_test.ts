// The browser as a second WebGPU implementation: `serve` bundles the page, and
// headless Chromium (Dawn + Tint over SwiftShader) runs the committed
// conformance suite through it. The full suite only: it takes minutes.
import assert from "node:assert/strict";
import { chromiumPath, pageText } from "./_chromium.ts";
import { servePage } from "./serve.ts";
import { FULL_SUITE } from "../conformance/test_device.ts";
import { readManifest } from "../conformance/vectors.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** Serves the page for the length of `body`, which gets its URL. */
async function withPage(body: (url: string) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  let url = "";
  const served = servePage(0, (u) => url = u, stop.signal);
  try {
    while (!url) await new Promise((r) => setTimeout(r, 100));
    await body(url);
  } finally {
    stop.abort();
    await served;
  }
}

Deno.test({
  name:
    "Chromium (Dawn/Tint) passes the committed vectors with the Deno run's case count, subgroups probed under Tint",
  ignore: !FULL_SUITE || chromiumPath() === null,
  fn: async () => {
    const deno = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "conform", "--vectors-only", "--quiet"],
      stdout: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const denoText = new TextDecoder().decode(deno.stdout);
    const [, dPassed, dFailed, dSkipped] = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/m
      .exec(denoText)!;
    assert.equal(dFailed, "0", denoText);
    const denoTotal = Number(dPassed) + Number(dSkipped ?? 0);

    await withPage(async (url) => {
      const page = await pageText(
        `${url}?run=conform`,
        ["adapter", "summary", "results"],
        1_200_000,
      );
      assert.equal(page.title, "done", JSON.stringify(page.text).slice(0, 2000));
      const [, passed, failed, skipped] = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/
        .exec(page.text.summary)!;
      const lines = page.text.results.split("\n");
      assert.equal(failed, "0", lines.filter((l) => l.startsWith("FAIL")).join("\n"));
      // Every result Deno counted is there, passed or skipped with its reason.
      assert.equal(Number(passed) + Number(skipped ?? 0), denoTotal, page.text.summary);
      for (const line of lines.filter((l) => l.startsWith("skip"))) {
        assert.match(line, /: .*(needs|lacks)/, line);
      }
      const cases = new Set(lines.map((l) => /\) \[/.test(l) ? l.split(" [")[0].slice(12) : ""));
      assert.equal(cases.size - (cases.has("") ? 1 : 0), (await readManifest()).cases.length);
      // The subgroup probe compiled and ran under Tint (it needs `enable subgroups;`).
      const adapter = JSON.parse(page.text.adapter);
      if (adapter.features.includes("subgroups")) {
        assert.equal(adapter.subgroups.source, "probed");
        assert.ok(adapter.subgroups.minSize >= 4 && adapter.subgroups.linear, page.text.adapter);
        // The subgroup reduction ran under Dawn, forced and as auto's choice, and passed.
        const ran = (label: RegExp) => lines.filter((l) => l.startsWith("ok") && label.test(l));
        assert.ok(ran(/\[matvec\/subgroup\]/).length > 0, lines.join("\n"));
        assert.ok(ran(/\[auto→matvec(-int24)?\/subgroup\]/).length > 0, lines.join("\n"));
        assert.deepEqual(lines.filter((l) => l.startsWith("skip") && /subgroup/.test(l)), []);
        // SwiftShader skips nothing else: every result Deno has passes there.
        assert.equal(skipped ?? "0", "0", page.text.summary);
      }
    });
  },
});

Deno.test({
  name: "the page says what is missing when the browser has no WebGPU",
  ignore: !FULL_SUITE || chromiumPath() === null,
  fn: async () => {
    await withPage(async (url) => {
      // No --enable-unsafe-webgpu: headless Chromium on Linux then has no adapter.
      const page = await pageText(url, ["status"], 60_000, false);
      assert.equal(page.title, "error");
      assert.match(page.text.status, /WebGPU|adapter/);
    });
  },
});

Deno.test({
  name: "the page's bench times ours and an ?impl= implementation, with a table and a chart",
  ignore: !FULL_SUITE || chromiumPath() === null,
  fn: async () => {
    await withPage(async (url) => {
      const page = await pageText(
        `${url}?run=bench&shape=256x256&m=1,8&impl=/examples/naive_q5k.js`,
        ["benchOut"],
        300_000,
      );
      assert.equal(page.title, "done", page.text.benchOut);
      assert.match(page.text.benchOut, /µs per pass by (GPU timestamps|wall clock)/);
      assert.match(page.text.benchOut, /kquant.*naive/s);
      assert.match(page.text.benchOut, /linear 256×256: latency/);
    });
  },
});
