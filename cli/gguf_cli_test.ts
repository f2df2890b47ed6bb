// bench --gguf and conform --gguf on the model-shaped fixture that llama.cpp's
// writer makes (conformance/gguf_fixture.ts), on a broken implementation and on a
// hostile file.
import assert from "node:assert/strict";
import { broken, cli } from "./_run_cli.ts";
import { fixtureLayout } from "../conformance/gguf_fixture.ts";
import { llamaGguf } from "../conformance/llama_gguf.ts";
import type { BenchReport } from "../bench/sweep.ts";
import { GGML_TYPES } from "../gguf/ggml_types.ts";

const llama = await llamaGguf();
if (typeof llama === "string") throw new Error(`llama.cpp's GGUF writer is unavailable: ${llama}`);
const dir = await Deno.makeTempDir();
const FIXTURE = `${dir}/fixture.gguf`;
llama.write(FIXTURE, fixtureLayout());
llama.close();
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const layout = fixtureLayout();
const q5k = layout.filter((t) => t.type === 13);
const q5kLinear = q5k.filter((t) => t.name !== "token_embd.weight");

Deno.test("bench --gguf times each Q5_K shape with its tensors, the embedding, the upload, the model sum and lists what it skipped", async () => {
  const r = await cli(
    "bench",
    "--gguf",
    FIXTURE,
    "--m",
    "1,3",
    "--ids",
    "1,4",
    "--min-time",
    "0.01",
    "--no-dense",
    "--json",
    "--chart",
    `${dir}/gguf.svg`,
    "--quiet",
  );
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BenchReport;
  const svg = await Deno.readTextFile(`${dir}/gguf.svg`);
  assert.match(svg, /<svg[\s\S]*1536×512[\s\S]*<\/svg>/);
  const g = report.gguf!;
  // Every distinct shape, with exactly the fixture's tensors of that shape.
  const shapes = new Map<string, string[]>();
  for (const t of q5kLinear) {
    shapes.set(`${t.ne1}x${t.ne0}`, [...(shapes.get(`${t.ne1}x${t.ne0}`) ?? []), t.name]);
  }
  assert.deepEqual(
    new Map(g.shapes.map((s) => [`${s.n}x${s.k}`, s.names])),
    shapes,
  );
  assert.equal(g.embedding, "token_embd.weight");
  // Every other tensor listed with its type, none dropped.
  assert.deepEqual(
    g.skipped.map((s) => [s.name, s.type]),
    layout.filter((t) => t.type !== 13).map((t) => [t.name, GGML_TYPES.get(t.type)!.name]),
  );
  assert.equal(g.upload.tensors, q5k.length);
  assert.equal(g.upload.bytes, q5k.reduce((s, t) => s + t.data.length, 0));
  assert.ok(g.upload.gbps > 0 && g.headerMs >= 0);
  // Each linear row names its tensors; the model sum is Σ tensors × median per M.
  const linear = report.results.filter((x) => x.op === "linear");
  assert.equal(linear.length, shapes.size * 2);
  for (const row of linear) assert.deepEqual(row.tensors, shapes.get(`${row.n}x${row.k}`));
  for (const m of [1, 3]) {
    const sum = report.model!.find((s) => s.m === m && s.variant === "auto")!;
    const expected = linear.filter((x) => x.m === m).reduce(
      (s, x) => s + x.tensors!.length * x.medianUs,
      0,
    );
    assert.ok(Math.abs(sum.us - expected) <= 1e-9 * expected, `${sum.us} vs ${expected}`);
    assert.equal(sum.tensors, q5kLinear.length);
    assert.ok(sum.sharedPassUs! > 0);
  }
  const emb = report.results.filter((x) => x.op === "embedding");
  assert.deepEqual(emb.map((x) => [x.m, x.n, x.k]), [[1, 1024, 512], [4, 1024, 512]]);
  assert.deepEqual(emb[0].tensors, ["token_embd.weight"]);
});

Deno.test("bench --gguf prints the file, upload, shapes, skipped tensors and the whole-model table", async () => {
  const r = await cli(
    "bench",
    "--gguf",
    FIXTURE,
    "--m",
    "2",
    "--op",
    "linear",
    "--min-time",
    "0.01",
    "--no-dense",
    "--quiet",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /blk\.\*\.attn_q\.weight, blk\.\*\.attn_output\.weight/);
  assert.match(r.stdout, /^upload +13 Q5_K tensors, .* GB\/s host → GPU/m);
  assert.match(r.stdout, /^ {2}Q6_K, not Q5_K +3: blk\.0\.ffn_down\.weight/m);
  assert.match(r.stdout, /^ {2}F32, not Q5_K +5: /m);
  assert.match(r.stdout, /^whole model: .* 12 Q5_K weight tensors/m);
  assert.match(r.stdout, /^ +2 +\d+/m);
});

Deno.test("bench --gguf --impl times another implementation on the file's weights and sums its model too", async () => {
  const r = await cli(
    "bench",
    "--gguf",
    FIXTURE,
    "--impl",
    "examples/naive_q5k.ts",
    "--m",
    "1",
    "--op",
    "linear",
    "--min-time",
    "0.01",
    "--no-dense",
    "--json",
    "--quiet",
  );
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BenchReport;
  const naive = report.results.filter((x) => x.impl === "naive");
  assert.equal(naive.length, 3);
  for (const row of naive) assert.ok(row.tensors!.length === 4 && row.medianUs > 0);
  const sums = report.model!.filter((s) => s.m === 1).map((s) => [s.impl, s.tensors]);
  assert.deepEqual(sums, [["kquant", 12], ["naive", 12]]);
});

Deno.test("conform --gguf checks every Q5_K tensor on every family and the embedding bit-exact", async () => {
  const r = await cli("conform", "--gguf", FIXTURE, "--rows", "64", "--max-m", "8");
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const t of q5k) {
    assert.match(
      r.stdout,
      new RegExp(
        `^tensor ${
          t.name.replaceAll(".", "\\.")
        }: ${t.ne1}×${t.ne0} Q5_K, checking rows 64 of ${t.ne1}, seed \\d+$`,
        "m",
      ),
    );
    for (const x of ["m=1, x=uniform", "m=8, x=outliers"]) {
      assert.match(
        r.stdout,
        new RegExp(`^ok +gguf +gguf\\(${t.name.replaceAll(".", "\\.")}, ${x}, rows 64 of`, "m"),
      );
    }
  }
  assert.match(
    r.stdout,
    /^ok +gguf +gguf\(token_embd\.weight as embedding, ids=64, seed 1\) \[gather\] max 0 ulp/m,
  );
  const ok = r.stdout.split("\n").filter((l) => l.startsWith("ok "));
  const families = new Set(ok.map((l) => /\[(.*?)\]/.exec(l)![1]));
  for (const f of ["matvec/workgroup", "rowlane", "tiled"]) {
    assert.ok(families.has(f), [...families].join());
  }
  // Each tensor × 2 M on every family, and the one embedding.
  const perRun = ok.filter((l) => l.includes("blk.0.attn_q.weight, m=1,")).length;
  assert.ok(perRun >= 4, r.stdout);
  assert.match(r.stdout, new RegExp(`^${q5k.length * 2 * perRun + 1} passed, 0 failed`, "m"));
});

Deno.test("conform --gguf fails a broken implementation on the file's tensors, naming each", async () => {
  const path = await broken(">> sb) & 1u; // bit sb", ">> (sb + 1u)) & 1u; // bit sb");
  try {
    const r = await cli(
      "conform",
      "--gguf",
      FIXTURE,
      "--impl",
      path,
      "--rows",
      "32",
      "--max-m",
      "1",
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const fails = r.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
    assert.equal(fails.length, q5k.length + 1, r.stdout); // each tensor at M = 1, and the embedding
    for (const line of fails) {
      assert.match(
        line,
        /^FAIL gguf +gguf\((token_embd|blk\.\d)\.[\w.]+[ ,].*\[naive: .*(got|ulp)/,
      );
    }
    assert.match(r.stdout, new RegExp(`^0 passed, ${q5k.length + 1} failed$`, "m"));
  } finally {
    await Deno.remove(path.replace(/\/broken\.ts$/, ""), { recursive: true });
  }
});

Deno.test("bench and conform --gguf refuse a hostile file before any GPU work, naming the field", async () => {
  const bytes = await Deno.readFile(FIXTURE);
  const cut = `${dir}/cut.gguf`;
  await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 1000));
  for (const command of ["bench", "conform"]) {
    const r = await cli(command, "--gguf", cut);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^error: --gguf .*cut\.gguf: Cannot read GGUF: .* data at byte \d+ runs \d+ bytes, past the end of the file/m,
    );
  }
  const missing = await cli("bench", "--gguf", FIXTURE, "--table", "64x256");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--table cannot be used with --gguf/);
});
