import assert from "node:assert/strict";
import { type Crossover, crossoverFor, familyFor } from "./crossover.ts";
import { splitsFor, splitsForWaves, tallTiles, tileBytes, tileFor } from "./tiled_kernel.ts";
import { matvecConfigFor } from "./matvec_config.ts";
import { columnGroup, rowLaneConfigFor, rowLaneSplits } from "./rowlane_kernel.ts";

const info = (vendor: string, description = "") =>
  ({ vendor, description, architecture: "", device: "" }) as GPUAdapterInfo;

Deno.test("crossoverFor() uses the measured values for NVIDIA (the K-major tiled form too) and llama.cpp's 8 and the rows layout elsewhere", () => {
  const nvidia = {
    maxMatvecM: 2,
    maxSharedPassMatvecM: 1,
    maxRowLaneM: 84,
    tiledBand: [57, 64],
    maxInt8MatvecM: 8,
    maxInt8RowLaneM: 256,
    maxWideMatvecM: 4,
    maxSharedPassWideMatvecM: 4,
    transposedTiled: true,
    tiledWaveSlots: 132,
    tallTiledFromM: 129,
  };
  const { source, ...h200 } = crossoverFor(info("4318", "NVIDIA H200"));
  assert.deepEqual(h200, nvidia);
  assert.match(source, /measured/);
  assert.equal(crossoverFor(info("0x10de")).maxRowLaneM, 84);
  const fallback = {
    maxMatvecM: 8,
    maxSharedPassMatvecM: 8,
    maxRowLaneM: 8,
    maxInt8MatvecM: 8,
    maxInt8RowLaneM: 8,
    transposedTiled: false,
  };
  const { source: _, ...soft } = crossoverFor(info("65541", "llvmpipe (LLVM 15.0.6, 256 bits)"));
  assert.deepEqual(soft, fallback);
  assert.equal(crossoverFor(undefined).maxRowLaneM, 8);
});

Deno.test("familyFor() switches to lane-per-row at a smaller M in a shared pass, f32 only, and to tiled inside its band", () => {
  const nvidia = crossoverFor(info("4318", "NVIDIA H200"));
  const at = (int8: boolean, shared: boolean) =>
    [1, 2, 3, 4, 56, 57, 64, 65, 84, 85, 256, 257].map((m) => familyFor(nvidia, m, int8, shared));
  // m: mat-vec, r: lane-per-row, t: tiled, at the M above.
  const names = { m: "matvec", r: "rowlane", t: "tiled" } as const;
  const families = (codes: string) => codes.split(" ").map((c) => names[c as keyof typeof names]);
  assert.deepEqual(at(false, false), families("m m r r r t t r r t t t"));
  assert.deepEqual(at(false, true), families("m r r r r t t r r t t t"));
  assert.deepEqual(at(true, false), families("m m m m r r r r r r r t"));
  assert.deepEqual(at(true, true), families("m m m m r r r r r r r t"));
  // With 24-bit activations (wide) mat-vec up to 4 first, one pass or shared; not for int8.
  const wide = (int8: boolean, shared: boolean, c: Crossover = nvidia) =>
    [1, 2, 3, 4, 5, 57].map((m) => familyFor(c, m, int8, shared, true));
  assert.deepEqual(wide(false, false), families("m m m m r t"));
  assert.deepEqual(wide(false, true), families("m m m m r t"));
  assert.deepEqual(wide(true, false), families("m m m m m r"));
  // A lower shared-pass limit holds in a shared pass alone.
  const lower = { ...nvidia, maxSharedPassWideMatvecM: 2 };
  assert.deepEqual(wide(false, false, lower), families("m m m m r t"));
  assert.deepEqual(wide(false, true, lower), families("m m r r r t"));
  assert.equal(nvidia.maxWideMatvecM, 4);
  assert.equal(crossoverFor(undefined).maxWideMatvecM, undefined);
  assert.equal(familyFor(crossoverFor(undefined), 9, false, false, true), "tiled");
  // The band never takes M below the mat-vec limit.
  assert.equal(familyFor({ ...nvidia, tiledBand: [1, 64] }, 2, false, false), "matvec");
  // Elsewhere one limit for both: mat-vec up to 8, tiled above.
  const other = crossoverFor(undefined);
  assert.deepEqual(
    [8, 9].map((m) => familyFor(other, m, false, true)),
    ["matvec", "tiled"],
  );
});

Deno.test("familyFor() rejects a bad crossover, M or flag by name and keeps working", () => {
  const c = crossoverFor(undefined);
  assert.throws(
    () => familyFor(c, 0, false, false),
    /m must be a positive integer, current value is 0/,
  );
  assert.throws(() => familyFor(c, 2.5, false, false), RangeError);
  assert.throws(() => familyFor(c, "2" as unknown as number, false, false), TypeError);
  assert.throws(
    () => familyFor(c, 2, 1 as unknown as boolean, false),
    /int8 must be a boolean, current value is 1/,
  );
  assert.throws(
    () => familyFor(c, 2, false, undefined as unknown as boolean),
    /shared must be a boolean, current value is undefined/,
  );
  assert.throws(
    () => familyFor(c, 2, false, false, "yes" as unknown as boolean),
    /wide must be a boolean, current value is "yes"/,
  );
  assert.throws(
    () => familyFor({ ...c, maxWideMatvecM: -1 }, 2, false, false, true),
    /crossover.maxWideMatvecM must be an integer of at least 0, current value is -1/,
  );
  assert.throws(
    () => familyFor({ ...c, maxSharedPassWideMatvecM: 0.5 }, 2, false, true, true),
    /crossover.maxSharedPassWideMatvecM must be an integer of at least 0, current value is 0.5/,
  );
  const { maxSharedPassMatvecM: _, ...old } = c;
  assert.throws(
    () => familyFor(old as Crossover, 2, false, true),
    /crossover.maxSharedPassMatvecM must be a number, current value is undefined/,
  );
  assert.throws(
    () => familyFor(null as unknown as Crossover, 2, false, true),
    /crossover must be an object, current value is null/,
  );
  assert.throws(
    () => familyFor({ ...c, tiledBand: [57] as unknown as [number, number] }, 2, false, true),
    /crossover.tiledBand must be two integers, current value is Array\(1\)/,
  );
  assert.equal(familyFor(c, 2, false, true), "matvec");
});

Deno.test("rowLaneConfigFor() picks the column group that holds M within workgroup memory", () => {
  const mcs = [1, 2, 3, 5, 7, 8, 9, 16, 17, 32, 33, 40, 41, 64, 65, 100].map((m) =>
    rowLaneConfigFor(m, 49152, false, false).mc
  );
  // f32 up to 32 columns: exactly M; above, the fewest groups of ≤ 32, split evenly.
  assert.deepEqual(mcs, [1, 2, 3, 5, 7, 8, 9, 16, 17, 32, 17, 20, 21, 32, 22, 25]);
  // int8 up to 64 columns.
  const int8Mcs = [3, 24, 64, 65, 100, 256].map((m) =>
    rowLaneConfigFor(m, 49152, false, false, true).mc
  );
  assert.deepEqual(int8Mcs, [3, 24, 64, 33, 50, 64]);
  // Exactly M only where M columns fit: 3 KiB do not fit 2 KiB of workgroup memory.
  assert.equal(rowLaneConfigFor(3, 2048, false, false).mc, 2);
  assert.equal(rowLaneConfigFor(64, 16384, false, false).mc, 16); // 32 columns need 32 KiB
  const narrow = rowLaneConfigFor(8, 49152, true, false);
  assert.deepEqual(narrow, { mc: 8, r: 2, wg: 128, pairs: true, bias: true, split: false });
  // Up to 4 columns one row a lane.
  assert.deepEqual([3, 4, 5, 6].map((m) => rowLaneConfigFor(m, 49152, false, false).r), [
    1,
    1,
    1,
    2,
  ]);
  assert.equal(rowLaneConfigFor(16, 49152, false, true).wg, 256);
  // int8: 320 bytes a column, so 32 columns fit in 16 KiB; its own lanes and K-splits.
  assert.deepEqual(rowLaneConfigFor(64, 16384, false, false, true), {
    mc: 32,
    r: 1,
    wg: 128,
    lanes: 131072,
    bias: false,
    split: false,
    int8: true,
  });
  assert.deepEqual(
    [9, 16].map((m) => rowLaneConfigFor(m, 16384, false, false, true)).map((c) => [c.mc, c.r]),
    [[9, 2], [16, 2]],
  );
  // Up to 64 int8 columns (20 KiB) where memory allows, with 64 Ki lanes; never 64 f32 columns.
  assert.deepEqual(rowLaneConfigFor(33, 49152, false, false, true), {
    mc: 33,
    r: 1,
    wg: 128,
    lanes: 65536,
    bias: false,
    split: false,
    int8: true,
  });
  assert.equal(rowLaneConfigFor(128, 49152, false, false, true).mc, 64);
  assert.equal(rowLaneConfigFor(32, 49152, false, false, true).lanes, 131072);
  assert.equal(rowLaneConfigFor(64, 1 << 20, false, false).mc, 32);
  assert.equal(rowLaneConfigFor(100, 1 << 20, false, false, true).mc, 50);
});

Deno.test("columnGroup() cuts M into column groups as each comparison mode says", () => {
  const groups = (mode: string, int8 = false) =>
    [1, 3, 5, 9, 24, 40, 64].map((m) => columnGroup(m, int8 ? 64 : 32, mode, int8));
  assert.deepEqual(groups(""), [1, 3, 5, 9, 24, 20, 32]);
  assert.deepEqual(groups("", true), [1, 3, 5, 9, 24, 40, 64]);
  assert.deepEqual(groups("exact"), [1, 3, 5, 9, 24, 32, 32]);
  assert.deepEqual(groups("exact8"), [1, 3, 5, 16, 32, 32, 32]);
  assert.deepEqual(groups("exact8", true), [2, 4, 8, 16, 32, 64, 64]);
  assert.deepEqual(groups("pow2"), [2, 4, 8, 16, 32, 32, 32]);
  // A cap that is no power of two (workgroup memory for 51 int8 columns).
  assert.deepEqual([40, 51, 52, 100].map((m) => columnGroup(m, 51, "", true)), [40, 51, 26, 50]);
  assert.deepEqual([40, 100].map((m) => columnGroup(m, 51, "pow2", true)), [32, 32]);
  // H200-measured slice counts: 14336×4096 at M = 16 (28 groups) → 8, M = 8 (56) → 16.
  assert.equal(rowLaneSplits({ mc: 16, wg: 256 }, 28, 16), 8);
  assert.equal(rowLaneSplits({ mc: 8, wg: 128 }, 56, 16), 16);
  assert.equal(rowLaneSplits({ mc: 16, wg: 256 }, 8, 56), 28); // 4096×14336
  assert.equal(rowLaneSplits({ mc: 32, wg: 256 }, 10000, 16), 1);
});

Deno.test("tileFor() picks the M edge that holds M and the largest tile memory allows", () => {
  assert.deepEqual(tileFor(49152, 1), { tm: 16, tn: 128, padded: true });
  assert.deepEqual(tileFor(49152, 16), { tm: 16, tn: 128, padded: true });
  assert.deepEqual(tileFor(49152, 17), { tm: 32, tn: 128, padded: true });
  assert.deepEqual(tileFor(49152, 64), { tm: 64, tn: 128, padded: true });
  assert.deepEqual(tileFor(49152, 512), { tm: 128, tn: 128, padded: true });
  assert.deepEqual(tileFor(32768, 512), { tm: 128, tn: 128, padded: false });
  assert.deepEqual(tileFor(16384, 512), { tm: 64, tn: 64, padded: false });
  assert.equal(tileBytes({ tm: 128, tn: 128 }, true), 36864);
});

Deno.test("splitsFor() takes the fewest exact K-slices that make 768 workgroups, even ones first", () => {
  assert.equal(splitsFor(768, 16), 1);
  assert.equal(splitsFor(448, 16), 2); // 14336×4096 at M = 512
  assert.equal(splitsFor(112, 16), 8); // 14336×4096 at M = 128
  assert.equal(splitsFor(128, 56), 7); // 4096×14336 at M = 512
  assert.equal(splitsFor(64, 56), 14); // 4096×14336 at M = 256
  assert.equal(splitsFor(32, 56), 14); // 16 slices of ceil(56 / 16) = 4 blocks would be 14
  assert.equal(splitsFor(100, 17), 9); // no even count is enough: the fewest that are
  assert.equal(splitsFor(1, 2), 2);
  for (let nb = 1; nb <= 64; nb++) {
    for (const tiles of [1, 7, 32, 100, 500]) {
      const z = splitsFor(tiles, nb);
      assert.equal(
        Math.ceil(nb / Math.ceil(nb / z)),
        z,
        `nb=${nb} tiles=${tiles}: ${z} is not exact`,
      );
    }
  }
});

Deno.test("splitsForWaves() takes the fewest whole waves of the shortest K-slices, fewest slices among equals", () => {
  // The counts measured fastest on an H200 (132 SMs, one workgroup each), see splitsForWaves.
  assert.equal(splitsForWaves(32, 16, 132), 4); // 4096×4096 at M = 128: one wave of 128
  assert.equal(splitsForWaves(64, 16, 132), 2); // M = 256
  assert.equal(splitsForWaves(128, 16, 132), 1); // M = 512
  assert.equal(splitsForWaves(112, 16, 132), 8); // 14336×4096 at M = 128: 7 waves of 2 blocks
  assert.equal(splitsForWaves(224, 16, 132), 4); // M = 256
  assert.equal(splitsForWaves(448, 16, 132), 2); // M = 512, not 16 slices of 1 block
  assert.equal(splitsForWaves(32, 56, 132), 4); // 4096×14336 at M = 128
  assert.equal(splitsForWaves(128, 56, 132), 1); // M = 512
  assert.equal(splitsForWaves(896, 16, 132), 1); // enough tiles: no split
  for (let nb = 1; nb <= 64; nb++) {
    for (const tiles of [1, 7, 32, 100, 500]) {
      for (const slots of [1, 46, 132]) {
        const z = splitsForWaves(tiles, nb, slots);
        assert.equal(Math.ceil(nb / Math.ceil(nb / z)), z, `nb=${nb} tiles=${tiles}: ${z}`);
        assert.ok(z >= 1 && z <= 16, `${z}`);
      }
    }
  }
});

Deno.test("matvecConfigFor() keeps lane groups valid for the subgroup size", () => {
  const wide = matvecConfigFor(8, 4096, 32, false, false);
  assert.equal(wide.reduce, "subgroup");
  assert.equal(wide.cols, 8);
  const narrow = matvecConfigFor(8, 4096, 8, false, false);
  assert.equal(narrow.lanesPerBlock, 8); // 16-lane blocks would straddle 8-wide subgroups
  const none = matvecConfigFor(1, 4096, 0, false, false);
  assert.equal(none.reduce, "workgroup");
  assert.equal(matvecConfigFor(100, 256, 32, false, false).cols, 8);
});

Deno.test("tallTiles() takes 256-row tiles from its M where they pad no more rows than 128-row ones", () => {
  const at = (fromM: number) =>
    [128, 129, 256, 257, 384, 385, 512, 513, 768].map((m) => tallTiles(m, fromM));
  assert.deepEqual(at(129), [false, true, true, false, false, true, true, false, true]);
  assert.deepEqual(at(300), [false, false, false, false, false, true, true, false, true]);
  assert.ok(at(0).every((t) => !t));
});
