// conform --impl and bench --impl on the example implementation, on copies of
// it broken on purpose, and on modules that are not implementations.
import assert from "node:assert/strict";
import { broken, cli } from "./_run_cli.ts";

const small = ["--vectors-only", "--max-m", "9"];

Deno.test("conform --impl passes the example implementation on every committed case", async () => {
  const r = await cli("conform", "--impl", "examples/naive_q5k.ts", "--vectors-only");
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const [, passed] = /^(\d+) passed, 0 failed$/m.exec(r.stdout)!;
  assert.ok(Number(passed) >= 40, r.stdout);
  assert.match(r.stdout, /\[naive: one invocation per output\]/);
  assert.match(r.stdout, /\[naive: gather\]/);
});

for (
  const [what, from, to] of [
    ["the qh bit off by one", ">> sb) & 1u; // bit sb", ">> (sb + 1u)) & 1u; // bit sb"],
    [
      "a wrong scale index",
      "var sc = byte_at(base, 4u + sb) & 63u;",
      "var sc = byte_at(base, 5u + sb) & 63u;",
    ],
  ] as const
) {
  Deno.test(`conform --impl catches ${what} with failure lines naming the case`, async () => {
    const path = await broken(from, to);
    try {
      const r = await cli("conform", "--impl", path, ...small);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const fails = r.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
      assert.ok(fails.length > 5, r.stdout);
      for (const line of fails) {
        assert.match(line, /^FAIL vector (linear|embedding)\(q5_K, .*seed=\d+\) \[naive: /);
        assert.match(line, /worst at index \d+: got|ulp at index \d+: got/);
      }
      assert.match(r.stdout, /^\d+ passed, [1-9]\d* failed$/m);
    } finally {
      await Deno.remove(path.replace(/\/broken\.ts$/, ""), { recursive: true });
    }
  });
}

Deno.test("conform --impl reports a module that throws, lacks a factory or returns the wrong length", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const modules: Record<string, string> = {
      "throws.ts": 'throw new Error("boom");',
      "empty.ts": 'export default { name: "empty" };',
      "short.ts": `export default { name: "short", linear: () => ({
        run: async (x, m) => new Float32Array(1), destroy() {} }) };`,
    };
    for (const [name, text] of Object.entries(modules)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const bad = await cli(
      "conform",
      "--impl",
      `${dir}/throws.ts`,
      "--impl",
      `${dir}/empty.ts`,
      ...small,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAIL load +.*throws\.ts: Error: boom/);
    assert.match(
      bad.stdout,
      /FAIL load +.*empty\.ts: .*must have a linear or an embedding factory/,
    );
    assert.match(bad.stdout, /^0 passed, 2 failed$/m);
    const short = await cli("conform", "--impl", `${dir}/short.ts`, ...small);
    assert.equal(short.code, 1);
    assert.match(short.stdout, /FAIL vector linear\(.*\[short via run\(\)\] .*length 1 != \d+/);
    assert.doesNotMatch(short.stderr, /Uncaught|at file:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench --impl times the example beside kquant's kernels, with an impl column and field", async () => {
  const args = ["--shape", "256x256", "--m", "1,8", "--table", "64x256", "--ids", "1,4"];
  const r = await cli(
    "bench",
    "--impl",
    "examples/naive_q5k.ts",
    ...args,
    "--min-time",
    "0.01",
    "--no-dense",
    "--quiet",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  for (const op of ["linear", "embedding"]) {
    const impls = new Set(
      report.results.filter((x: { op: string }) => x.op === op).map((x: { impl: string }) =>
        x.impl
      ),
    );
    assert.deepEqual([...impls].sort(), ["kquant", "naive"], op);
  }
  const bad = await cli("bench", "--impl", "examples/missing.ts", ...args);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --impl examples\/missing\.ts: .*; nothing was run/);
});
