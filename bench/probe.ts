/**
 * What `cli info` reports: the adapter, its limits, subgroups, whether GPU
 * timestamps actually advance, and the crossover the dispatcher will use.
 *
 * @module
 */

import { type Crossover, crossoverFor } from "../kernels/crossover.ts";
import { hasPackedDot } from "../kernels/linear.ts";
import { KERNEL_LIMITS } from "../kernels/device.ts";
import { probeSubgroupLayout } from "../kernels/subgroup_layout.ts";
import { backendName, isSoftwareAdapter } from "./sweep.ts";

/** The facts `info` prints. */
export interface DeviceInfo {
  adapter: { vendor: string; architecture: string; device: string; description: string };
  software: boolean;
  backend: string;
  features: string[];
  limits: Record<string, number>;
  subgroups: {
    granted: boolean;
    minSize?: number;
    maxSize?: number;
    measuredSize?: number;
    /** Consecutive invocations form each subgroup (the mat-vec butterflies rely on it). */
    consecutive?: boolean;
  };
  timestamps: { available: boolean; advancing: boolean };
  crossover: Crossover;
  /** Whether WGSL has `dot4I8Packed`, which the opt-in int8 activations need. */
  int8: boolean;
}

const LIMITS = [...KERNEL_LIMITS, "minStorageBufferOffsetAlignment"];

async function timestampsAdvance(device: GPUDevice): Promise<boolean> {
  const qs = device.createQuerySet({ type: "timestamp", count: 2 });
  const resolve = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const read = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var a = f32(g.x); for (var i = 0u; i < 4096u; i++) { a = a * 1.0001 + 0.5; } o[g.x] = a; }`,
  });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const out = device.createBuffer({ size: 64 * 64 * 4, usage: GPUBufferUsage.STORAGE });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass({
    timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
  });
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: out } }],
    }),
  );
  pass.dispatchWorkgroups(64);
  pass.end();
  enc.resolveQuerySet(qs, 0, 2, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const [t0, t1] = new BigUint64Array(read.getMappedRange());
  read.unmap();
  for (const b of [resolve, read, out]) b.destroy();
  qs.destroy();
  return t1 > t0;
}

/** Gathers what `info` prints. */
export async function probeDevice(adapter: GPUAdapter, device: GPUDevice): Promise<DeviceInfo> {
  const info = adapter.info as GPUAdapterInfo & {
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  const limits: Record<string, number> = {};
  for (const name of LIMITS) {
    limits[name] = (device.limits as unknown as Record<string, number>)[name];
  }
  const granted = device.features.has("subgroups" as GPUFeatureName);
  const hasTimestamps = device.features.has("timestamp-query");
  // One kernel tells both the subgroup size and whether lanes are consecutive.
  const layout = await probeSubgroupLayout(device);
  return {
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
    },
    software: isSoftwareAdapter(adapter),
    backend: backendName(adapter),
    features: [...device.features].sort(),
    limits,
    subgroups: {
      granted,
      minSize: info.subgroupMinSize,
      maxSize: info.subgroupMaxSize,
      measuredSize: layout.minSize || undefined,
      consecutive: granted ? layout.linear : undefined,
    },
    timestamps: {
      available: hasTimestamps,
      advancing: hasTimestamps ? await timestampsAdvance(device) : false,
    },
    crossover: crossoverFor(adapter.info),
    int8: hasPackedDot(),
  };
}
