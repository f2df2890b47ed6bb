import assert from "node:assert/strict";
import { BENCH_VARIANTS, parseCommand, UsageError } from "./args.ts";

Deno.test("parseCommand() reads bench flags into options", () => {
  const c = parseCommand([
    "bench",
    "--shape",
    "14336x4096",
    "--shape",
    "4096x14336",
    "--m",
    "1,2,8",
    "--op",
    "linear",
    "--variant",
    "all",
    "--min-time",
    "0.5",
    "--iters",
    "50",
    "--backend",
    "vulkan",
    "--json",
    "--out",
    "r.json",
    "--chart",
    "r.svg",
    "--vs",
    "llama.cpp",
    "--ggml-lib",
    "/x",
    "--quiet",
  ]);
  assert.equal(c.command, "bench");
  if (c.command !== "bench") return;
  const o = c.options;
  assert.deepEqual(o.shapes, [{ n: 14336, k: 4096 }, { n: 4096, k: 14336 }]);
  assert.deepEqual(o.ms, [1, 2, 8]);
  assert.deepEqual(o.ops, ["linear"]);
  assert.deepEqual(o.variants, [...BENCH_VARIANTS]);
  assert.equal(o.variants.length, 8);
  assert.equal(o.minTimeMs, 500);
  assert.equal(o.iters, 50);
  assert.equal(o.backend, "vulkan");
  assert.equal(o.format, "json");
  assert.equal(o.out, "r.json");
  assert.equal(o.chart, "r.svg");
  assert.ok(o.vsLlamaCpp && o.quiet && o.dense);
  assert.equal(o.ggmlLib, "/x");
});

Deno.test("parseCommand() takes each variant alone, matvec-int24 and tiled-int8 included", () => {
  for (const v of BENCH_VARIANTS) {
    const c = parseCommand(["bench", "--variant", v]);
    assert.equal(c.command, "bench");
    if (c.command !== "bench") return;
    assert.deepEqual(c.options.variants, [v]);
  }
});

Deno.test("parseCommand() defaults bench to everything, auto variant, a table", () => {
  const c = parseCommand(["bench"]);
  assert.equal(c.command, "bench");
  if (c.command !== "bench") return;
  assert.deepEqual(c.options.ops, ["linear", "embedding"]);
  assert.deepEqual(c.options.variants, ["auto"]);
  assert.equal(c.options.format, "table");
  assert.equal(c.options.shapes, undefined);
});

Deno.test("parseCommand() reads conform, info and help", () => {
  assert.deepEqual(parseCommand(["conform", "--vectors-only"]), {
    command: "conform",
    options: { vectorsOnly: true, impls: [], backend: undefined, quiet: false },
  });
  assert.deepEqual(parseCommand(["conform", "--max-m", "16", "--backend", "gl"]), {
    command: "conform",
    options: { vectorsOnly: false, impls: [], backend: "gl", quiet: false, maxM: 16 },
  });
  assert.deepEqual(parseCommand(["info", "--json"]), {
    command: "info",
    options: { backend: undefined, json: true },
  });
  assert.deepEqual(
    (parseCommand(["conform", "--impl", "a.ts", "--impl", "b.ts"]) as {
      options: { impls: string[] };
    })
      .options.impls,
    ["a.ts", "b.ts"],
  );
  assert.deepEqual(parseCommand(["conform", "--gguf", "m.gguf", "--rows", "all"]), {
    command: "conform",
    options: {
      vectorsOnly: false,
      impls: [],
      backend: undefined,
      quiet: false,
      gguf: "m.gguf",
      rows: Infinity,
    },
  });
  assert.equal(
    (parseCommand(["bench", "--gguf", "m.gguf"]) as { options: { gguf?: string } }).options.gguf,
    "m.gguf",
  );
  assert.equal(parseCommand([]).command, "help");
  assert.equal(parseCommand(["bench", "--help"]).command, "help");
});

Deno.test("parseCommand() rejects bad input with a message naming the value", () => {
  const bad: [string[], string][] = [
    [["frobnicate"], '"frobnicate"'],
    [["serve", "--port", "70000"], '"70000"'],
    [["bench", "--bogus"], "bogus"],
    [["conform", "--max-m", "0"], '"0"'],
    [["conform", "--max-m", "8x"], '"8x"'],
    [["bench", "--m", "1,x"], '"x"'],
    [["bench", "--m", ""], '""'],
    [["bench", "--m", "0"], '"0"'],
    [["bench", "--m", "-3"], '"-3"'],
    [["bench", "--shape", "4096x300"], "300"],
    [["bench", "--shape", "4096"], '"4096"'],
    [["bench", "--shape", "0x256"], '"0"'],
    [["bench", "--op", "conv"], '"conv"'],
    [["bench", "--variant", "fast"], '"fast"'],
    [["bench", "--min-time", "abc"], '"abc"'],
    [["bench", "--min-time", "-1"], '"-1"'],
    [["bench", "--iters", "1.5"], '"1.5"'],
    [["bench", "--backend", "cuda"], '"cuda"'],
    [["bench", "--vs", "torch"], '"torch"'],
    [["bench", "--chart", "x.png"], '"x.png"'],
    [["bench", "--json", "--csv"], "--json and --csv"],
    [["conform", "--fast"], "fast"],
    [["info", "--backend", "x"], '"x"'],
    [["bench", "--gguf", "m.gguf", "--shape", "64x256"], '"64x256"'],
    [["bench", "--gguf", "m.gguf", "--table", "64x256"], '"64x256"'],
    [["conform", "--rows", "8"], '"8"'],
    [["conform", "--gguf", "m.gguf", "--rows", "0"], '"0"'],
    [["conform", "--gguf", "m.gguf", "--rows", "some"], '"some"'],
    [["conform", "--gguf", "m.gguf", "--vectors-only"], "--vectors-only"],
  ];
  for (const [argv, needle] of bad) {
    assert.throws(
      () => parseCommand(argv),
      (e: Error) =>
        e instanceof UsageError && e.message.includes(needle) && !e.message.includes("\n"),
      argv.join(" "),
    );
  }
});
