import assert from "node:assert/strict";
import { cli } from "./_run_cli.ts";
import { hasPackedDot } from "../kernels/linear.ts";
import { FULL_SUITE } from "../conformance/test_device.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** Whether Deno finds an adapter on its GL backend here (Mesa's EGL). */
const glAdapter = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", MAIN, "info", "--backend", "gl"],
  stdout: "null",
  stderr: "null",
}).outputSync().code === 0;

const TINY = [
  "--shape",
  "256x256",
  "--m",
  "1,9",
  "--variant",
  "all",
  "--table",
  "64x256",
  "--ids",
  "1,4",
  "--min-time",
  "0.01",
  "--quiet",
];

Deno.test("cli exits 2 with one line and usage for bad input, never a stack trace", async () => {
  for (
    const args of [["bench", "--m", "x"], ["frobnicate"], ["bench", "--shape", "10x100"], [
      "bench",
      "--nope",
    ]]
  ) {
    const r = await cli(...args);
    assert.equal(r.code, 2, args.join(" "));
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0], /^error: /);
    assert.match(lines[1], /--help' for the flags$/);
    assert.doesNotMatch(r.stderr, /at file:|Stack|\.ts:\d+:\d+/);
  }
});

Deno.test("cli bench --help shows bench's flags only", async () => {
  const r = await cli("bench", "--help");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--shape NxK/);
  assert.doesNotMatch(r.stdout, /--vectors-only|conform flags/);
});

Deno.test("cli --m -1 says the value is bad, not missing", async () => {
  const r = await cli("bench", "--m", "-1");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--m must be a positive integer, current value is "-1"/);
});

Deno.test("cli bench names a shape or M the device cannot hold before timing anything", async () => {
  for (
    const [args, named] of [
      [["--shape", "1024x1024", "--m", "1,3000000"], /--shape 1024x1024 --m 3000000: x/],
      [["--shape", "999999999x256"], /--shape 999999999x256: the Q5_K weights/],
    ] as const
  ) {
    const r = await cli("bench", "--op", "linear", ...args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, named);
    assert.doesNotMatch(r.stderr, /read ceiling|µs|Uncaught/);
    assert.equal(r.stdout, "");
  }
});

Deno.test("cli bench refuses an unwritable --out or --chart before running", async () => {
  for (const flag of ["--out", "--chart"]) {
    const r = await cli("bench", "--json", flag, "missing/dir/x.svg");
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^error: ${flag} missing/dir/x.svg cannot be written`));
    assert.doesNotMatch(r.stderr, /read ceiling/);
  }
});

Deno.test("cli bench whose --out fails at the end prints the results to stdout and exits 1", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const r = await cli(
    "bench",
    "--op",
    "embedding",
    ...TINY.slice(6),
    "--json",
    "--out",
    "/dev/full",
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error: could not write \/dev\/full: .*; the results are on stdout above/);
  assert.ok(JSON.parse(r.stdout).results.length > 0);
});

Deno.test("cli names the missing permission in one line before any work", async () => {
  for (
    const [flags, command, missing] of [
      [[], ["info"], "--allow-env"],
      [[], ["bench"], "--allow-env"],
      [["--allow-env"], ["conform"], "--allow-read"],
      [["--allow-env", "--allow-read"], ["conform"], "--allow-ffi"],
      [["--allow-env"], ["bench", "--out", "x.json"], "--allow-write"],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, MAIN, ...command],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, new RegExp(`^error: ${command[0]} needs ${missing} `), stderr);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
  }
});

Deno.test("cli info reports the GL backend Deno falls back to when no Vulkan driver is visible", {
  ignore: !glAdapter,
}, async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "info", "--json"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", VK_DRIVER_FILES: "/nonexistent", VK_ICD_FILENAMES: "/nonexistent" },
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.match(info.backend, /^gl /);
});

Deno.test("cli help prints usage with examples", async () => {
  const r = await cli("help");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Examples:/);
  assert.match(r.stdout, /--vs llama\.cpp/);
});

Deno.test("cli info describes the adapter, limits, subgroups, timestamps, crossover and int8", async () => {
  const r = await cli("info");
  assert.equal(r.code, 0, r.stderr);
  for (
    const key of [
      "adapter",
      "backend",
      "features",
      "maxStorageBufferBindingSize",
      "subgroups",
      "timestamps",
      "crossover",
      "int8",
    ]
  ) {
    assert.match(r.stdout, new RegExp(`^${key}\\s`, "m"), key);
  }
  const j = await cli("info", "--json");
  const parsed = JSON.parse(j.stdout);
  assert.equal(typeof parsed.limits.maxBufferSize, "number");
  assert.equal(typeof parsed.crossover.maxMatvecM, "number");
  assert.equal(parsed.int8, hasPackedDot());
});

Deno.test("cli bench --json prints one object with every documented field", async () => {
  const r = await cli("bench", ...TINY, "--json");
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.ok(["gpu-timestamp", "wall"].includes(report.clock));
  assert.ok(report.ceilingGBs > 0);
  assert.equal(typeof report.adapter.description, "string");
  assert.equal(typeof report.backend, "string");
  const linear = report.results.filter((x: { op: string }) => x.op === "linear");
  const emb = report.results.filter((x: { op: string }) => x.op === "embedding");
  // 2 M × (auto, matvec, rowlane, tiled, matvec-int24, matvec-int8, rowlane-int8, tiled-int8)
  assert.equal(linear.length, 2 * 8);
  assert.ok(linear.some((x: { variant: string }) => x.variant === "matvec-int24"));
  assert.ok(linear.some((x: { variant: string }) => x.variant === "rowlane"));
  assert.ok(linear.some((x: { variant: string }) => x.variant === "matvec-int8"));
  assert.ok(linear.some((x: { variant: string }) => x.variant === "tiled-int8"));
  assert.ok(linear.some((x: { variant: string }) => x.variant === "rowlane-int8"));
  assert.equal(emb.length, 2);
  for (const x of report.results) {
    for (
      const key of [
        "op",
        "variant",
        "m",
        "n",
        "k",
        "medianUs",
        "p10Us",
        "p90Us",
        "gbps",
        "gflops",
        "pctOfCeiling",
      ]
    ) {
      assert.ok(key in x, key);
    }
    assert.ok(x.p10Us <= x.medianUs && x.medianUs <= x.p90Us);
    assert.ok(x.medianUs > 0);
  }
  assert.ok(linear.every((x: { denseUs?: number }) => x.denseUs! > 0));
  assert.equal(emb[1].m, 4);
  assert.equal(emb[1].n, 64);
  assert.equal(report.measuredCrossover.length, 1);
  assert.ok("rowLaneFromM" in report.measuredCrossover[0]);
  assert.ok("tiledOverRowLaneFromM" in report.measuredCrossover[0]);
  assert.ok("wideUpToM" in report.measuredCrossover[0]);
  assert.equal(typeof report.crossover.maxRowLaneM, "number");
});

Deno.test("cli bench prints an aligned table, CSV, and an SVG chart", async () => {
  const dir = await Deno.makeTempDir();
  const r = await cli("bench", ...TINY, "--chart", `${dir}/c.svg`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^adapter /m);
  assert.match(r.stdout, /^ceiling .* GB\/s/m);
  const header = r.stdout.split("\n").find((l) => l.startsWith("op "))!;
  const dashes = r.stdout.split("\n")[r.stdout.split("\n").indexOf(header) + 1];
  assert.match(header, /median µs.*GB\/s.*GFLOP\/s.*% ceiling/);
  assert.equal(dashes.replace(/[^ ]/g, "").length > 5, true);
  assert.match(r.stdout, /crossover 256×256:/);
  assert.match(r.stdout, /crossover 256×256: lane-per-row is faster than mat-vec /);
  assert.match(r.stdout, /crossover 256×256: int8 lane-per-row is faster than int8 mat-vec /);
  assert.match(r.stdout, /crossover 256×256: the 24-bit mat-vec is faster than every f32 family /);
  assert.match(r.stdout, /^crossover auto uses mat-vec up to M = \d+/m);
  const svg = await Deno.readTextFile(`${dir}/c.svg`);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /median latency \(µs\)/);
  assert.match(svg, /batch size M/);
  assert.match(svg, /Q5_K matvec/);
  assert.match(svg, /read ceiling/);
  assert.match(svg, /<path d="M/);
  const csv = await cli("bench", ...TINY, "--csv", "--out", `${dir}/r.csv`);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = (await Deno.readTextFile(`${dir}/r.csv`)).trim().split("\n");
  assert.equal(
    lines[0],
    "op,impl,variant,m,n,k,medianUs,p10Us,p90Us,gbps,gflops,pctOfCeiling,denseUs,llamaCppUs,readUs,sharedPassUs,sharedPassKernel,cpuUs,tensors",
  );
  assert.equal(lines.length, 1 + 2 * 8 + 2); // 2 M × 8 variants, 2 embedding id counts
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli bench --vs llama.cpp adds llama.cpp's time and ratio", async () => {
  const r = await cli(
    "bench",
    "--op",
    "linear",
    "--shape",
    "256x256",
    "--m",
    "1",
    "--min-time",
    "0.01",
    "--no-dense",
    "--vs",
    "llama.cpp",
    "--json",
    "--quiet",
  );
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.ok(report.llamaCpp.backend.length > 0);
  assert.ok(report.results[0].llamaCppUs > 0);
  assert.ok(report.results[0].readUs > 0);
  assert.ok(report.results[0].cpuUs > 0);
  assert.ok(report.results[0].sharedPassUs > 0);
  assert.equal(report.results[0].denseUs, undefined);
});

Deno.test("cli bench --wall-clock times long batches by wall clock and says so", async () => {
  const r = await cli(
    "bench",
    "--op",
    "linear",
    "--shape",
    "256x256",
    "--m",
    "1",
    "--min-time",
    "0.05",
    "--no-dense",
    "--wall-clock",
    "--json",
    "--quiet",
  );
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.clock, "wall");
  assert.match(report.tick, /wall clock/);
  assert.ok(report.results[0].medianUs > 0);
});

Deno.test("cli conform --vectors-only runs the committed vectors and ends with the count", async () => {
  const r = await cli("conform", "--vectors-only", "--quiet");
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^\d+ passed, 0 failed$/m);
  const passed = Number(/^(\d+) passed/m.exec(r.stdout)![1]);
  assert.ok(passed >= 26, `${passed}`);
});

Deno.test("cli conform --max-m runs only the linear cases of M up to it, and every embedding case", async () => {
  const r = await cli("conform", "--vectors-only", "--max-m", "1");
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const ms = [...r.stdout.matchAll(/ linear\(q5_K, m=(\d+),/g)].map((x) => Number(x[1]));
  assert.ok(ms.length > 0);
  assert.deepEqual([...new Set(ms)], [1]);
  assert.match(r.stdout, / embedding\(q5_K, rows=/);
});

Deno.test({
  // M ≤ 16: with a cold Mesa shader cache the GL driver spends minutes on each
  // of the M = 64…130 kernels (about 28 minutes in all on a 2-core machine,
  // 2.5 with --max-m 16); M ≤ 16 still runs every kernel family there.
  name:
    "cli conform passes the committed vectors up to M = 16 on the GL backend too (GLSL, no subgroups)",
  // The full suite only (KQUANT_TEST_FULL=1): 2.5 minutes cold on 2 cores.
  ignore: !glAdapter || !FULL_SUITE,
  fn: async () => {
    const r = await cli("conform", "--backend", "gl", "--vectors-only", "--max-m", "16", "--quiet");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const passed = Number(/^(\d+) passed, 0 failed$/m.exec(r.stdout)![1]);
    assert.ok(passed >= 26, `${passed}`);
    assert.doesNotMatch(r.stdout, /matvec\/subgroup/);
  },
});
