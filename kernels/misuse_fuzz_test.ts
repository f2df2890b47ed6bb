// A seeded misuse fuzzer: random sequences of valid and invalid calls on
// layers, tables, encode() and record(). After every step: a rejected call
// threw a TypeError or RangeError (before recording anything: the encoder still
// submits cleanly), an accepted one gave the f64 reference's answer, and a
// known-good call on the same object still does. KQUANT_FUZZ_SEED and
// KQUANT_FUZZ_STEPS replay or lengthen a run; a failure prints its seed.
import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { Q5KLinear } from "./linear.ts";
import { Q5KEmbedding } from "./embedding.ts";
import { makeQ5KBlob } from "./make_blob.ts";
import { dequantizeQ5K } from "./dequantize.ts";
import { mulberry32, uniformF32 } from "./_rng.ts";
import { uploadStorage } from "./_gpu.ts";
import { compareNmse, compareUlp, referenceLinear } from "../conformance/compare.ts";
import { envVar } from "./_env.ts";
import { requestDevice } from "./device.ts";

const device = await testDevice();
const other = await requestDevice();
globalThis.addEventListener("unload", () => other.destroy());
const SEED = Number(envVar("KQUANT_FUZZ_SEED") ?? Date.now() % 1e9);
const STEPS = Number(envVar("KQUANT_FUZZ_STEPS") ?? 2000);
const [N, K] = [24, 256];
const ROWS = N; // the table reuses the layers' blob
const MAX_M = 4;
const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

const blob = makeQ5KBlob(N, K, { seed: 3, mode: "quantized" });
const w = dequantizeQ5K(blob);
const xs = Array.from({ length: MAX_M + 1 }, (_, m) => uniformF32(m * K, 100 + m));
const refs = xs.map((x, m) => referenceLinear(x, w, m, N, K));

Deno.test(`misuse fuzzer: ${STEPS} random calls, each rejected one a TypeError/RangeError and every object still right (seed ${SEED})`, async () => {
  const rand = mulberry32(SEED);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const layers = [
    Q5KLinear.create(device, blob, { n: N, k: K }),
    Q5KLinear.create(device, blob, { n: N, k: K, variant: "tiled", activations: "f32" }),
    Q5KLinear.create(device, blob, { n: N, k: K, variant: "rowlane" }),
  ];
  const table = Q5KEmbedding.create(device, blob, { rows: ROWS, k: K });
  const good = {
    x: uploadStorage(device, "fuzz x", xs[MAX_M]),
    y: device.createBuffer({ label: "fuzz y", size: 4 * K * 4 + 512, usage: USAGE }),
    ids: uploadStorage(device, "fuzz ids", new Uint32Array([0, 5, ROWS - 1, 7])),
  };
  const dead = device.createBuffer({ size: 1 << 16, usage: USAGE });
  dead.destroy();
  const badBuffers: [string, unknown][] = [
    ["destroyed", dead],
    ["foreign", other.createBuffer({ size: 1 << 16, usage: USAGE })],
    ["no STORAGE", device.createBuffer({ size: 1 << 16, usage: GPUBufferUsage.COPY_DST })],
    ["too small", device.createBuffer({ size: 8, usage: USAGE })],
    ["odd offset", { buffer: good.y, offset: 4 }],
    ["NaN offset", { buffer: good.y, offset: NaN }],
    ["negative offset", { buffer: good.y, offset: -256 }],
    ["past the end", { buffer: good.y, offset: 0, size: good.y.size + 256 }],
    ["odd size", { buffer: good.y, size: 6 }],
    ["not a buffer", { buffer: {} }],
    ["null", null],
  ];
  const badMs: unknown[] = [0, -1, 1.5, NaN, Infinity, "2", null, 2 ** 53];
  const stats = { steps: 0, rejected: 0, accepted: 0 };

  async function checkLayer(layer: Q5KLinear, what: string) {
    const m = int(1, MAX_M);
    const c = compareNmse(await layer.run(xs[m], m), refs[m], 1e-10);
    assert.ok(c.ok, `${what}: known-good run(m=${m}) after it: ${c.detail}`);
  }
  async function checkTable(what: string) {
    const id = int(0, ROWS - 1);
    const c = compareUlp(await table.lookup([id]), w.subarray(id * K, (id + 1) * K), 0);
    assert.ok(c.ok, `${what}: known-good lookup after it: ${c.detail}`);
  }
  async function rejected(what: string, call: () => unknown) {
    let error: unknown = null;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    assert.ok(
      error instanceof TypeError || error instanceof RangeError,
      `${what}: expected a TypeError or RangeError, got ${error}`,
    );
    stats.rejected++;
  }
  async function cleanSubmit(encoder: GPUCommandEncoder, what: string) {
    device.pushErrorScope("validation");
    device.queue.submit([encoder.finish()]);
    const e = await device.popErrorScope();
    assert.equal(e, null, `${what}: the encoder got a command the device rejects: ${e?.message}`);
  }

  try {
    for (let step = 0; step < STEPS; step++) {
      stats.steps++;
      const li = int(0, layers.length - 1);
      const layer = layers[li];
      const kind = pick(["run", "run", "encode", "record", "lookup", "table-encode"] as const);
      const bad = rand() < 0.5;
      const what = `step ${step} (${kind}, layer ${li}, ${bad ? "bad" : "good"})`;
      if (kind === "run") {
        const m = int(1, MAX_M);
        if (bad) {
          const x = xs[m].slice();
          const which = int(0, 3);
          if (which === 0) await rejected(what, () => layer.run(x, pick(badMs) as number));
          else if (which === 1) await rejected(what, () => layer.run(x.subarray(1), m));
          else if (which === 2) {
            x[int(0, x.length - 1)] = pick([NaN, Infinity, -Infinity]);
            await rejected(what, () => layer.run(x, m));
          } else await rejected(what, () => layer.run(Array.from(x) as never, m));
        } else {
          // Extreme but finite rows sometimes: run() keeps them accurate.
          const scale = pick([1, 1, 1e-33, 1e36, 1e-30]);
          const x = xs[m].map((v) => v * scale);
          const c = compareNmse(await layer.run(x, m), referenceLinear(x, w, m, N, K), 1e-10);
          assert.ok(c.ok, `${what} scale ${scale}: ${c.detail}`);
          stats.accepted++;
        }
        await checkLayer(layer, what);
      } else if (kind === "encode" || kind === "record") {
        const m = int(1, MAX_M);
        const encoder = device.createCommandEncoder();
        const pass = kind === "record" ? encoder.beginComputePass() : null;
        const call = (x: unknown, y: unknown, mm: unknown) =>
          pass
            ? layer.record(pass, x as GPUBuffer, y as GPUBuffer, mm as number)
            : layer.encode(encoder, x as GPUBuffer, y as GPUBuffer, mm as number);
        if (bad) {
          const which = int(0, 3);
          const [name, buffer] = pick(badBuffers);
          if (which === 0) await rejected(`${what} x ${name}`, () => call(buffer, good.y, m));
          else if (which === 1) await rejected(`${what} y ${name}`, () => call(good.x, buffer, m));
          else if (which === 2) {
            await rejected(`${what} m`, () => call(good.x, good.y, pick(badMs)));
          } else await rejected(`${what} same buffer`, () => call(good.y, good.y, 1));
          pass?.end();
          await cleanSubmit(encoder, what);
        } else {
          const offset = pick([0, 256]);
          call(good.x, { buffer: good.y, offset }, m);
          pass?.end();
          const staging = device.createBuffer({ size: m * N * 4, usage: 1 | 8 });
          encoder.copyBufferToBuffer(good.y, offset, staging, 0, m * N * 4);
          await cleanSubmit(encoder, what);
          await staging.mapAsync(GPUMapMode.READ);
          const y = new Float32Array(staging.getMappedRange().slice(0));
          staging.destroy();
          const want = referenceLinear(xs[MAX_M].subarray(0, m * K), w, m, N, K);
          const c = compareNmse(y, want, 1e-10);
          assert.ok(c.ok, `${what}: ${c.detail}`);
          stats.accepted++;
        }
        await checkLayer(layer, what);
      } else if (kind === "lookup") {
        if (bad) {
          const ids = pick<unknown>([[], [ROWS], [-1], [1.5], [NaN], ["1"], "1", null, [
            0,
            ROWS + 9,
          ]]);
          await rejected(`${what} ${JSON.stringify(ids)}`, () => table.lookup(ids as number[]));
        } else {
          const ids = Array.from({ length: int(1, 6) }, () => int(0, ROWS - 1));
          const got = await table.lookup(ids);
          ids.forEach((id, i) => {
            const c = compareUlp(
              got.subarray(i * K, (i + 1) * K),
              w.subarray(id * K, (id + 1) * K),
              0,
            );
            assert.ok(c.ok, `${what} id ${id}: ${c.detail}`);
          });
          stats.accepted++;
        }
        await checkTable(what);
      } else {
        const encoder = device.createCommandEncoder();
        if (bad) {
          const [name, buffer] = pick(badBuffers);
          if (rand() < 0.5) {
            await rejected(
              `${what} ids ${name}`,
              () => table.encode(encoder, buffer as GPUBuffer, good.y, 4),
            );
          } else {await rejected(`${what} y ${name}`, () =>
              table.encode(encoder, good.ids, buffer as GPUBuffer, 4));}
        } else table.encode(encoder, good.ids, good.y, 4);
        await cleanSubmit(encoder, what);
        if (!bad) stats.accepted++;
        await checkTable(what);
      }
    }
  } catch (error) {
    throw new Error(
      `misuse fuzzer failed with seed ${SEED} (KQUANT_FUZZ_SEED=${SEED} replays it): ${
        (error as Error).message
      }`,
    );
  } finally {
    for (const l of layers) l.destroy();
    table.destroy();
    for (const b of Object.values(good)) b.destroy();
  }
  assert.equal(stats.steps, STEPS);
  assert.ok(stats.rejected > STEPS / 4 && stats.accepted > STEPS / 4, JSON.stringify(stats));
});
