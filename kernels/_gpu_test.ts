import assert from "node:assert/strict";
import { testDevice } from "../conformance/test_device.ts";
import { cachedWgsl, compiledFor, DispatchCache, type KernelSpec } from "./_gpu.ts";

const device = await testDevice();

const spec: KernelSpec = {
  name: "test copy",
  key: "test-gpu-copy",
  wgsl: `struct P { a: u32, b: u32, c: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@compute @workgroup_size(1) fn main() { y[0] = p.a; }`,
  workgroups: [1, 1, 1],
  uniforms: new Uint32Array([7, 0, 0, 0]),
};

function storage(): GPUBuffer {
  return device.createBuffer({ size: 512, usage: GPUBufferUsage.STORAGE });
}

Deno.test("DispatchCache reuses a bind group for the same ranges and makes a new one otherwise", () => {
  const cache = new DispatchCache(device, "test");
  const compiled = compiledFor(device, spec);
  const [a, b] = [storage(), storage()];
  const first = cache.bindGroup(spec, compiled, [a]);
  assert.equal(cache.bindGroup(spec, compiled, [a]), first);
  assert.equal(cache.bindGroup(spec, compiled, [{ buffer: a }]), first);
  const others = [
    cache.bindGroup(spec, compiled, [b]),
    cache.bindGroup(spec, compiled, [{ buffer: a, offset: 256 }]),
    cache.bindGroup(spec, compiled, [{ buffer: a, size: 256 }]),
    cache.bindGroup({ ...spec, uniforms: new Uint32Array([8, 0, 0, 0]) }, compiled, [a]),
  ];
  assert.equal(new Set([first, ...others]).size, 5);
  // A range object reused with a new offset is a new binding.
  const range = { buffer: a, offset: 0 };
  const before = cache.bindGroup(spec, compiled, [range]);
  range.offset = 256;
  const after = cache.bindGroup(spec, compiled, [range]);
  assert.notEqual(after, before);
  assert.equal(after, others[1]);
  assert.equal(cache.uniform(spec.uniforms), cache.uniform(new Uint32Array([7, 0, 0, 0])));
  cache.destroy();
  a.destroy();
  b.destroy();
});

Deno.test("cachedWgsl builds each key once", () => {
  let builds = 0;
  const build = () => `// ${++builds}`;
  const key = `test-wgsl-${Math.random()}`;
  assert.equal(cachedWgsl(key, build), "// 1");
  assert.equal(cachedWgsl(key, build), "// 1");
  assert.equal(builds, 1);
});
