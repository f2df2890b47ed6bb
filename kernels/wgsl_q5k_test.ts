import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { Q5K_SCALE_PAIR_WGSL, Q5K_WGSL } from "./_wgsl_q5k.ts";
import { dispatch, DispatchCache, type KernelSpec, readBack, uploadStorage } from "./_gpu.ts";
import { f16BitsToF32 } from "./f16.ts";
import { scaleMinK4 } from "./q5k_format.ts";

const device = await testDevice();

/** Runs `body` (reading `inp[i]`, writing `out[i]`) once per input word, through the library's dispatch. */
async function run(body: string, inp: Uint32Array): Promise<Float32Array> {
  const spec: KernelSpec = {
    name: "wgsl helper test",
    key: `wgsl-helper-test:${body}`,
    wgsl: `${Q5K_WGSL}${Q5K_SCALE_PAIR_WGSL}
@group(0) @binding(0) var<uniform> p: vec4<u32>;
@group(0) @binding(1) var<storage, read> inp: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= p.x) { return; }
${body}
}`,
    workgroups: [Math.ceil(inp.length / 64), 1, 1],
    uniforms: Uint32Array.of(inp.length, 0, 0, 0),
  };
  const a = uploadStorage(device, "helper input", inp);
  const b = uploadStorage(
    device,
    "helper output",
    new Float32Array(4 * inp.length),
    GPUBufferUsage.COPY_SRC,
  );
  const cache = new DispatchCache(device, "helper test");
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  dispatch(device, pass, spec, cache, [a, b]);
  pass.end();
  const out = new Float32Array(await readBack(device, b, 16 * inp.length, 0, encoder));
  for (const x of [a, b]) x.destroy();
  cache.destroy();
  return out;
}

Deno.test("f16x2_to_f32() decodes every half exactly, zeros, subnormals, infinities and NaN included", async () => {
  // Word i holds half i in its low 16 bits and half 65535 − i in its high 16.
  const inp = Uint32Array.from({ length: 65536 }, (_, i) => (i | ((65535 - i) << 16)) >>> 0);
  const out = await run(`  out[i] = vec4<f32>(f16x2_to_f32(inp[i]), 0.0, 0.0);`, inp);
  for (let i = 0; i < 65536; i++) {
    for (const [got, bits] of [[out[4 * i], i], [out[4 * i + 1], 65535 - i]]) {
      const want = f16BitsToF32(bits);
      if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `half 0x${bits.toString(16)}`);
      else assert.ok(Object.is(got, want), `half 0x${bits.toString(16)}: ${got} != ${want}`);
    }
  }
});

Deno.test("scale_min_pair() matches llama.cpp's get_scale_min_k4 for both sub-blocks of every pair", async () => {
  // Three random 12-byte scale fields (plus all-ones), each at j = 0, 2, 4, 6.
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  const fields = [...Array.from({ length: 3 }, () => Uint8Array.from({ length: 12 }, rand))];
  fields.push(new Uint8Array(12).fill(0xff));
  const words = fields.flatMap((f) => {
    const v = new DataView(f.buffer);
    return [0, 2, 4, 6].flatMap((
      j,
    ) => [j, v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)]);
  });
  const inp = Uint32Array.from(words);
  const out = await run(
    `  if (i % 4u == 0u) { out[i / 4u] = scale_min_pair(inp[i], inp[i + 1u], inp[i + 2u], inp[i + 3u]); }`,
    inp,
  );
  fields.forEach((f, fi) => {
    [0, 2, 4, 6].forEach((j, ji) => {
      const at = 4 * (fi * 4 + ji);
      const [sc0, m0] = scaleMinK4(f, 0, j);
      const [sc1, m1] = scaleMinK4(f, 0, j + 1);
      assert.deepEqual([...out.subarray(at, at + 4)], [sc0, sc1, m0, m1], `field ${fi} j=${j}`);
    });
  });
});
