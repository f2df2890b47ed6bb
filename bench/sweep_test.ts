import assert from "node:assert/strict";
import { type BenchResult, tiledFrom, warmupFor, wideUpTo } from "./sweep.ts";
import type { Timing } from "./timing.ts";

function row(variant: string, m: number, medianUs: number): BenchResult {
  return {
    op: "linear",
    variant,
    m,
    n: 64,
    k: 256,
    medianUs,
    p10Us: medianUs,
    p90Us: medianUs,
    gbps: 1,
    gflops: 1,
    pctOfCeiling: 1,
  };
}

Deno.test("wideUpTo finds the M up to which the 24-bit mat-vec beats every f32 family", () => {
  const f32 = ["matvec", "rowlane", "tiled"];
  const results = [
    row("matvec-int24", 1, 20),
    row("matvec", 1, 25),
    row("rowlane", 1, 30),
    row("matvec-int24", 2, 30),
    row("matvec", 2, 40),
    row("rowlane", 2, 33),
    row("matvec-int24", 4, 50),
    row("rowlane", 4, 48), // behind here
    row("matvec-int24", 8, 60),
    row("rowlane", 8, 70), // ahead again, but the run stopped at 4
  ];
  assert.equal(wideUpTo(results, 64, 256, f32), 2);
  assert.equal(wideUpTo(results.slice(1), 64, 256, f32), 2); // no 24-bit row at M = 1
  assert.equal(wideUpTo([row("matvec-int24", 1, 30), row("matvec", 1, 25)], 64, 256, f32), null);
  assert.equal(wideUpTo(results, 64, 512, f32), null); // no rows of that shape
  // Shared-pass times count too; a CPU-bound row counts by its shared pass alone.
  const timed = (variant: string, m: number, us: number, sharedPassUs: number, cpuUs = 1) => ({
    ...row(variant, m, us),
    sharedPassUs,
    cpuUs,
  });
  const both = [
    timed("matvec-int24", 1, 17, 9, 19), // CPU-bound, behind one pass per op
    timed("matvec", 1, 16, 12),
    timed("matvec-int24", 2, 19, 12),
    timed("matvec", 2, 20, 15),
    timed("matvec-int24", 3, 21, 16),
    timed("rowlane", 3, 26, 15), // behind in a shared pass
  ];
  assert.equal(wideUpTo(both, 64, 256, f32), 2);
  // Not CPU-bound, the pass per op behind counts against it.
  assert.equal(wideUpTo([{ ...both[0], cpuUs: 1 }, both[1]], 64, 256, f32), null);
  // CPU-bound with no shared pass: nothing counts, so no win.
  const bare = [timed("matvec-int24", 1, 17, 9, 19), timed("matvec", 1, 25, 12)].map((
    { sharedPassUs: _, ...r },
  ) => r);
  assert.equal(wideUpTo(bare, 64, 256, f32), null);
});

Deno.test("tiledFrom finds the M from which tiled stays faster, for any pair of labels", () => {
  const results = [
    row("matvec", 1, 10),
    row("tiled", 1, 30),
    row("matvec", 8, 40),
    row("tiled", 8, 35), // faster here, but not at 16
    row("matvec", 16, 60),
    row("tiled", 16, 70),
    row("matvec", 32, 120),
    row("tiled", 32, 80),
    row("matvec", 64, 240),
    row("tiled", 64, 100),
    row("matvec-int8", 1, 5),
    row("tiled-int8", 1, 9),
    row("matvec-int8", 32, 50),
    row("tiled-int8", 32, 60),
  ];
  assert.equal(tiledFrom(results, 64, 256), 32);
  assert.equal(tiledFrom(results, 64, 256, "matvec-int8", "tiled-int8"), null);
  assert.equal(tiledFrom(results, 64, 512), null); // no rows of that shape
  results.push(row("matvec-int8", 64, 90), row("tiled-int8", 64, 70));
  assert.equal(tiledFrom(results, 64, 256, "matvec-int8", "tiled-int8"), 64);
});

Deno.test("warmupFor warms up long first and after a CPU-bound case, briefly otherwise", () => {
  const normal = { minTimeMs: 100, maxIters: 10, warmup: 1, warmupMs: 50 };
  const long = { ...normal, warmupMs: 1000 };
  const timing = (medianUs: number, cpuUs: number) => ({ medianUs, cpuUs }) as Timing;
  assert.equal(warmupFor(true, undefined, normal, long), long);
  assert.equal(warmupFor(true, timing(30, 10), normal, long), long);
  assert.equal(warmupFor(false, undefined, normal, long), normal);
  assert.equal(warmupFor(false, timing(30, 10), normal, long), normal);
  assert.equal(warmupFor(false, timing(10, 30), normal, long), long);
});
