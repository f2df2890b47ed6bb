// The README's library example, runnable: `deno run -A examples/quick_start.ts`.
// deno-lint-ignore-file no-console
import { makeQ5KBlob, Q5KEmbedding, Q5KLinear, requestDevice } from "../mod.ts";

const device = await requestDevice(); // largest limits; subgroups, f16, timestamps where granted

// y = x·Wᵀ with W as raw Q5_K blocks: N rows of K/256 blocks of 176 bytes.
const weights = makeQ5KBlob(4096, 4096, { seed: 1 }); // or a tensor's bytes from a GGUF file
const layer = Q5KLinear.create(device, weights, { n: 4096, k: 4096 });
const x = new Float32Array(2 * 4096).fill(0.5); // M = 2 rows of K activations
const y = await layer.run(x, 2); // M×N f32, row-major
console.log(y.length, y.slice(0, 3), layer.kernelFor(2));

// Rows of a Q5_K embedding table, dequantized on the GPU.
const table = Q5KEmbedding.create(device, makeQ5KBlob(1000, 4096, { seed: 2 }), {
  rows: 1000,
  k: 4096,
});
const rows = await table.lookup([1, 42, 999]); // 3×4096 f32
console.log(rows.length, rows.slice(0, 3));

layer.destroy();
table.destroy();
device.destroy();
