import assert from "node:assert/strict";

Deno.test("navigator.gpu yields an adapter and a trivial compute shader returns the right numbers", async () => {
  const adapter = await navigator.gpu.requestAdapter();
  assert.ok(
    adapter,
    "no WebGPU adapter: install a GPU driver, or on Linux `apt-get install mesa-vulkan-drivers`",
  );
  const device = await adapter.requestDevice();
  const module = device.createShaderModule({
    code: `
      @group(0) @binding(0) var<storage, read_write> data: array<f32>;
      @compute @workgroup_size(64)
      fn main(@builtin(global_invocation_id) id: vec3<u32>) {
        if (id.x >= arrayLength(&data)) { return; }
        data[id.x] = data[id.x] * 2.0 + f32(id.x);
      }`,
  });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const input = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5);
  const buffer = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, input);
  const readback = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer } }],
    }),
  );
  pass.dispatchWorkgroups(Math.ceil(input.length / 64));
  pass.end();
  encoder.copyBufferToBuffer(buffer, 0, readback, 0, input.byteLength);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  for (let i = 0; i < input.length; i++) assert.equal(out[i], i * 0.5 * 2 + i);
  buffer.destroy();
  readback.destroy();
  device.destroy();
});
