import assert from "node:assert/strict";
import { testDevice } from "./test_device.ts";
import { runSuite } from "./suite.ts";
import type { CaseResult } from "./check.ts";
import { caseName, type ConformanceCase, VECTOR_CASES } from "./cases.ts";
import { type VectorManifest, VECTORS_DIR } from "./vectors.ts";

const device = await testDevice();
const LINEAR = "linear(q5_K, m=1, n=16, k=256, quantized, seed=101)";
const EMBEDDING = "embedding(q5_K, rows=5, k=256, ids=4, quantized, seed=200)";
const FILE = "linear_m1_n16_k256_quantized_s101.bin";
const only = (c: ConformanceCase) => caseName(c) === LINEAR || caseName(c) === EMBEDDING;

/** A copy of the committed vectors, changed by `spoil`, run on the two small cases. */
async function spoiled(spoil: (dir: string) => Promise<void>): Promise<CaseResult[]> {
  const dir = await Deno.makeTempDir();
  try {
    for await (const f of Deno.readDir(VECTORS_DIR)) {
      await Deno.copyFile(new URL(f.name, VECTORS_DIR), `${dir}/${f.name}`);
    }
    await spoil(dir);
    return await runSuite(device, null, () => {}, { dir: new URL(`file://${dir}/`), only });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function editManifest(dir: string, edit: (m: VectorManifest) => void): Promise<void> {
  const path = `${dir}/manifest.json`;
  const m = JSON.parse(await Deno.readTextFile(path));
  edit(m);
  await Deno.writeTextFile(path, JSON.stringify(m));
}

/** The one failure line for LINEAR (matching `detail`), and the embedding case still passing. */
function failsOnlyLinear(results: CaseResult[], detail: RegExp): void {
  const failed = results.filter((r) => !r.ok);
  assert.equal(failed.length, 1, failed.map((r) => `${r.name}: ${r.detail}`).join("\n"));
  assert.equal(failed[0].name, LINEAR);
  assert.match(failed[0].detail, detail);
  assert.ok(results.some((r) => r.ok && r.name === EMBEDDING), "the run went on");
}

Deno.test("conform: a flipped byte fails its case by name and the run goes on", async () => {
  failsOnlyLinear(
    await spoiled(async (dir) => {
      const bin = await Deno.readFile(`${dir}/${FILE}`);
      bin[40] ^= 1;
      await Deno.writeFile(`${dir}/${FILE}`, bin);
    }),
    /digest/,
  );
});

Deno.test("conform: a truncated .bin fails its case by name", async () => {
  failsOnlyLinear(
    await spoiled(async (dir) => {
      const bin = await Deno.readFile(`${dir}/${FILE}`);
      await Deno.writeFile(`${dir}/${FILE}`, bin.subarray(0, 100));
    }),
    /must lie inside/,
  );
});

Deno.test("conform: a missing .bin fails its case by name", async () => {
  failsOnlyLinear(await spoiled((dir) => Deno.remove(`${dir}/${FILE}`)), /cannot read/);
});

Deno.test("conform: an edited digest fails its case by name", async () => {
  failsOnlyLinear(
    await spoiled((dir) =>
      editManifest(dir, (m) => {
        m.cases.find((e) => e.name === LINEAR)!.arrays.blob.sha256 = "0".repeat(64);
      })
    ),
    /blob digest/,
  );
});

Deno.test("conform: a missing llama.cpp output is a failure, not a NaN pass", async () => {
  failsOnlyLinear(
    await spoiled((dir) =>
      editManifest(dir, (m) => {
        delete (m.cases.find((e) => e.name === LINEAR)!.arrays as Record<string, unknown>).mulMat;
      })
    ),
    /mulMat is missing/,
  );
});

Deno.test("conform: a renamed key in an entry fails that entry by name", async () => {
  failsOnlyLinear(
    await spoiled((dir) =>
      editManifest(dir, (m) => {
        const e = m.cases.find((e) => e.name === LINEAR)! as unknown as Record<string, unknown>;
        e.arrayz = e.arrays;
        delete e.arrays;
      })
    ),
    /has no arrays/,
  );
});

Deno.test("conform: a missing, invalid or empty manifest fails, and so does every case it lacks", async () => {
  const committed = VECTOR_CASES.filter(only).length;
  for (
    const [what, spoil, detail] of [
      ["missing", (dir: string) => Deno.remove(`${dir}/manifest.json`), /NotFound/],
      ["invalid", (dir: string) => Deno.writeTextFile(`${dir}/manifest.json`, "{"), /valid JSON/],
      ["empty", (dir: string) => editManifest(dir, (m) => m.cases = []), /lists 0/],
      ["renamed", (dir: string) =>
        editManifest(dir, (m) => {
          (m as unknown as Record<string, unknown>).kases = m.cases;
          delete (m as unknown as Record<string, unknown>).cases;
        }), /cases array/],
    ] as const
  ) {
    const results = await spoiled(spoil);
    assert.equal(results.length, 1 + committed, what);
    assert.ok(results.every((r) => !r.ok), what);
    assert.equal(results[0].name, "manifest.json");
    assert.match(results[0].detail, detail, what);
    assert.match(results[1].detail, /missing from manifest.json/, what);
  }
});

Deno.test("conform: a manifest lacking a committed case fails that case", async () => {
  failsOnlyLinear(
    await spoiled((dir) =>
      editManifest(dir, (m) => {
        m.cases = m.cases.filter((e) => e.name !== LINEAR);
      })
    ),
    /missing from manifest.json/,
  );
});
