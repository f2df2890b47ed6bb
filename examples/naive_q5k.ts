// A plain Q5_K implementation to check and time with kquant-webgpu, and the
// tutorial for writing one: one invocation per output, no tiling, no
// subgroups. Check it and time it beside kquant's kernels:
//
//   deno run -A cli/main.ts conform --impl examples/naive_q5k.ts
//   deno run -A cli/main.ts bench --impl examples/naive_q5k.ts --shape 4096x4096 --m 1,8,64
//
// The block layout (176 bytes: d, dmin, 12 bytes of 6-bit scales and mins,
// 32 bytes of high bits, 128 of low nibbles) and the dequantization order
// follow llama.cpp's block_q5_K and dequantize_row_q5_K (ggml-quants.c).
import type { Implementation } from "../mod.ts";

const WGSL = /* wgsl */ `
struct P { m: u32, n: u32, k: u32, rows: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> w: array<u32>;   // 44 words a block
@group(0) @binding(2) var<storage, read> x: array<u32>;   // f32 activations as bits, or ids
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn byte_at(base: u32, i: u32) -> u32 { return (w[base + i / 4u] >> (8u * (i % 4u))) & 0xffu; }

// Weight o (0…255) of the block at word base: (d·sc)·q − dmin·mn.
fn weight(base: u32, o: u32) -> f32 {
  let dm = unpack2x16float(w[base]);             // d, dmin (f16 each)
  let sb = o / 32u;                              // sub-block: its 6-bit scale and min
  var sc = byte_at(base, 4u + sb) & 63u;
  var mn = byte_at(base, 8u + sb) & 63u;
  if (sb >= 4u) {                                // low nibbles at 8+sb, top bits in bytes sb, 4+sb
    sc = (byte_at(base, 8u + sb) & 15u) | ((byte_at(base, sb) >> 6u) << 4u);
    mn = (byte_at(base, 8u + sb) >> 4u) | ((byte_at(base, 4u + sb) >> 6u) << 4u);
  }
  let l = o % 32u;
  let qs = byte_at(base, 48u + 32u * (o / 64u) + l);
  let low = select(qs & 15u, qs >> 4u, (sb & 1u) == 1u);
  let high = (byte_at(base, 16u + l) >> sb) & 1u; // bit sb of qh[l]: the 5th bit
  let d1 = dm.x * f32(sc);
  return d1 * f32(low + 16u * high) - dm.y * f32(mn);
}

@compute @workgroup_size(64)
fn linear(@builtin(global_invocation_id) id: vec3<u32>) {
  let j = id.x;                                  // output feature: a row of W
  let i = id.y;                                  // batch row
  if (j >= p.n || i >= p.m) { return; }
  let nb = p.k / 256u;
  var acc = 0.0;
  for (var b = 0u; b < nb; b++) {
    for (var o = 0u; o < 256u; o++) {
      acc += weight((j * nb + b) * 44u, o) * bitcast<f32>(x[i * p.k + b * 256u + o]);
    }
  }
  y[i * p.n + j] = acc;
}

@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) g: vec3<u32>, @builtin(local_invocation_index) o: u32) {
  let row = x[g.y];                              // workgroup (block, id)
  let nb = p.k / 256u;
  if (row >= p.rows) { return; }
  y[g.y * p.k + g.x * 256u + o] = weight((row * nb + g.x) * 44u, o);
}`;

type Range = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };
const binding = (r: Range) => (r instanceof GPUBuffer ? { buffer: r } : r);

/** Uploads the blob; returns what both ops share: pipelines, a uniform per shape, a runner. */
function setUp(device: GPUDevice, blob: Uint8Array, entry: "linear" | "gather") {
  const weights = device.createBuffer({
    size: blob.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(weights, 0, blob as Uint8Array<ArrayBuffer>);
  const module = device.createShaderModule({ code: WGSL });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: entry },
  });
  const uniforms = new Map<string, GPUBuffer>();
  const uniform = (words: number[]) => {
    let u = uniforms.get(words.join());
    if (!u) {
      u = device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(u, 0, new Uint32Array(words));
      uniforms.set(words.join(), u);
    }
    return u;
  };
  const dispatch = (
    pass: GPUComputePassEncoder,
    words: number[],
    a: Range,
    out: Range,
    grid: [number, number],
  ) => {
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [uniform(words), weights, a, out].map((r, i) => ({
          binding: i,
          resource: binding(r),
        })),
      }),
    );
    pass.dispatchWorkgroups(...grid);
  };
  /** Uploads `input`, runs `record` into one pass, reads `outBytes` back. */
  const roundTrip = async (
    input: ArrayBufferView,
    outBytes: number,
    record: (pass: GPUComputePassEncoder, a: GPUBuffer, out: GPUBuffer) => void,
  ) => {
    const a = device.createBuffer({
      size: Math.max(16, input.byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    const out = device.createBuffer({
      size: outBytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    const read = device.createBuffer({
      size: outBytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(a, 0, input as Float32Array<ArrayBuffer>);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    record(pass, a, out);
    pass.end();
    encoder.copyBufferToBuffer(out, 0, read, 0, outBytes);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const result = new Float32Array(read.getMappedRange().slice(0));
    for (const b of [a, out, read]) b.destroy();
    return result;
  };
  const destroy = () => [weights, ...uniforms.values()].forEach((b) => b.destroy());
  return { dispatch, roundTrip, destroy };
}

const naive: Implementation = {
  name: "naive",
  linear(device, weights, { n, k }) {
    const gpu = setUp(device, weights, "linear");
    const record = (pass: GPUComputePassEncoder, x: Range, y: Range, m: number) =>
      gpu.dispatch(pass, [m, n, k, 0], x, y, [Math.ceil(n / 64), m]);
    return {
      run: (x, m) => gpu.roundTrip(x, m * n * 4, (pass, a, out) => record(pass, a, out, m)),
      encode(encoder, x, y, m, timestampWrites) {
        const pass = encoder.beginComputePass({ timestampWrites });
        record(pass, x, y, m);
        pass.end();
      },
      record,
      describe: () => "one invocation per output",
      destroy: gpu.destroy,
    };
  },
  embedding(device, table, { rows, k }) {
    const gpu = setUp(device, table, "gather");
    const record = (pass: GPUComputePassEncoder, ids: Range, y: Range, count: number) =>
      gpu.dispatch(pass, [0, 0, k, rows], ids, y, [k / 256, count]);
    return {
      lookup: (ids) =>
        gpu.roundTrip(
          Uint32Array.from(ids),
          ids.length * k * 4,
          (pass, a, out) => record(pass, a, out, ids.length),
        ),
      encode(encoder, ids, y, count, timestampWrites) {
        const pass = encoder.beginComputePass({ timestampWrites });
        record(pass, ids, y, count);
        pass.end();
      },
      record,
      destroy: gpu.destroy,
    };
  },
};

export default naive;
