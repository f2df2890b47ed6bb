/**
 * The read-bandwidth ceiling: a grid-stride vec4<u32> streaming read of one
 * large buffer, the most bytes per second this device moves through WebGPU.
 *
 * @module
 */

import type { KernelSpec } from "../kernels/_gpu.ts";

const WG = 256;

/** The streaming-read kernel over `vec4s` 16-byte words with `groups` workgroups. */
export function ceilingKernel(vec4s: number, groups: number): KernelSpec {
  return {
    name: "read ceiling (vec4<u32> grid-stride)",
    key: `bench-ceiling:wg${WG}`,
    wgsl: /* wgsl */ `
struct Params { n: u32, stride: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> sink: array<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  var acc = vec4<u32>(0u);
  for (var i = gid.x; i < p.n; i += p.stride) { acc ^= src[i]; }
  // Never true for the zero-filled buffer, but the compiler cannot know.
  if (all(acc == vec4<u32>(0xdeadbeefu))) { sink[0] = acc.x; }
}`,
    workgroups: [groups, 1, 1],
    uniforms: new Uint32Array([vec4s, groups * WG, 0, 0]),
  };
}
