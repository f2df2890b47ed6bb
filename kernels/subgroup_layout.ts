/**
 * What the kernels need to know about a device's subgroups: the smallest size,
 * and whether subgroups are runs of consecutive invocation indices (lane
 * `i % size` of subgroup `i / size`), which the mat-vec butterflies assume.
 * Vulkan, Metal and D3D12 drivers lay out 1-D workgroups that way in practice;
 * {@linkcode requestDevice} checks it once per device and the linear layer
 * falls back to workgroup-memory reductions where it does not hold.
 *
 * @module
 */

import { instance } from "./_validate.ts";

/** A device's subgroup facts. */
export interface SubgroupLayout {
  /** Smallest subgroup size seen or reported (0 when subgroups are not granted). */
  minSize: number;
  /** Whether lane = local_invocation_index mod size held for every invocation. */
  linear: boolean;
  /** "probed" by running a kernel, or "reported" from the adapter's info. */
  source: "probed" | "reported";
}

const probed = new WeakMap<GPUDevice, SubgroupLayout>();
/** Per device: the directive its WGSL front-end wants before subgroup builtins. */
const directives = new WeakMap<GPUDevice, string>();

/** The directive that enables subgroup builtins in WGSL (Tint requires it, naga rejects it). */
export const ENABLE_SUBGROUPS = "enable subgroups;\n";

/**
 * `wgsl` as `device`'s WGSL front-end accepts it: with `enable subgroups;`
 * in front where the shader uses subgroup builtins and {@linkcode
 * probeSubgroupLayout} found the front-end requires the directive (Dawn's
 * Tint), without it otherwise (Deno's naga rejects it).
 *
 * @param device The device the shader is for.
 * @param wgsl The shader, without enable directives.
 * @returns The shader to compile.
 */
export function forDevice(device: GPUDevice, wgsl: string): string {
  const directive = directives.get(device) ?? "";
  return directive && /\bsubgroup[A-Z_]/.test(wgsl) ? directive + wgsl : wgsl;
}

/** Whether `code` compiles on `device` (a validation error scope around the module). */
async function compiles(device: GPUDevice, code: string): Promise<boolean> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ label: "kquant WGSL directive probe", code });
  const error = await device.popErrorScope();
  if (error) return false;
  const info = await module.getCompilationInfo?.();
  return !info?.messages.some((m) => m.type === "error");
}

/**
 * The subgroup layout of a device: probed by {@linkcode probeSubgroupLayout}
 * when the device came from requestDevice(), else taken from the adapter's
 * reported sizes with the consecutive layout assumed.
 *
 * @param device The device.
 * @returns Its layout.
 * @throws {TypeError} If `device` is not a GPUDevice.
 */
export function subgroupLayout(device: GPUDevice): SubgroupLayout {
  instance("read the subgroup layout", "device", device, GPUDevice, "GPUDevice");
  const known = probed.get(device);
  if (known) return known;
  if (!device.features.has("subgroups" as GPUFeatureName)) {
    return { minSize: 0, linear: false, source: "reported" };
  }
  const info = device.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number };
  // Deno may grant subgroups without listing sizes: then assume WebGPU's minimum, 4.
  return { minSize: info.subgroupMinSize || 4, linear: true, source: "reported" };
}

/**
 * Runs a 256-invocation kernel that records each invocation's lane and
 * subgroup size, and remembers the result for the device. requestDevice()
 * calls it; call it yourself for a device you created another way.
 *
 * @param device The device.
 * @returns Its layout.
 * @throws {TypeError} If `device` is not a GPUDevice.
 * @example GPU
 * ```ts ignore
 * import { probeSubgroupLayout } from "@kquant/webgpu";
 * const adapter = await navigator.gpu.requestAdapter();
 * const device = await adapter!.requestDevice({ requiredFeatures: ["subgroups" as GPUFeatureName] });
 * console.log(await probeSubgroupLayout(device)); // { minSize: 32, linear: true, source: "probed" }
 * ```
 */
export async function probeSubgroupLayout(device: GPUDevice): Promise<SubgroupLayout> {
  instance("probe the subgroup layout", "device", device, GPUDevice, "GPUDevice");
  if (!device.features.has("subgroups" as GPUFeatureName)) {
    const none: SubgroupLayout = { minSize: 0, linear: false, source: "probed" };
    probed.set(device, none);
    return none;
  }
  const probe = `@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) i: u32, @builtin(subgroup_invocation_id) lane: u32,
        @builtin(subgroup_size) size: u32) {
  out[2u * i] = lane;
  out[2u * i + 1u] = size;
}`;
  // Decide once, by compiling the probe both ways (no runtime sniffing),
  // whether this front-end wants `enable subgroups;` before subgroup builtins.
  const directive = (await compiles(device, probe))
    ? ""
    : (await compiles(device, ENABLE_SUBGROUPS + probe))
    ? ENABLE_SUBGROUPS
    : null;
  if (directive === null) {
    const none: SubgroupLayout = { minSize: 0, linear: false, source: "probed" };
    probed.set(device, none);
    return none;
  }
  directives.set(device, directive);
  const module = device.createShaderModule({
    label: "kquant subgroup layout probe",
    code: directive + probe,
  });
  const pipeline = device.createComputePipeline({
    label: "kquant subgroup layout probe",
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const bytes = 256 * 2 * 4;
  const buffer = device.createBuffer({
    label: "kquant subgroup layout probe",
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const readback = device.createBuffer({
    label: "kquant subgroup layout probe readback",
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder({ label: "kquant subgroup layout probe" });
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer } }],
    }),
  );
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(buffer, 0, readback, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const words = new Uint32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  buffer.destroy();
  readback.destroy();
  let minSize = Infinity;
  let linear = true;
  for (let i = 0; i < 256; i++) {
    const lane = words[2 * i];
    const size = words[2 * i + 1];
    minSize = Math.min(minSize, size);
    if (size === 0 || lane !== i % size) linear = false;
  }
  const layout: SubgroupLayout = { minSize: linear ? minSize : 0, linear, source: "probed" };
  probed.set(device, layout);
  return layout;
}
