/**
 * Getting a WebGPU device that can run the Q5_K kernels at full size.
 *
 * @module
 */

import { probeSubgroupLayout } from "./subgroup_layout.ts";
import { keepAdapter } from "./_tracking.ts";

/** Options of {@linkcode requestDevice}. */
export interface RequestDeviceOptions {
  /** Adapter preference; default `"high-performance"`. */
  powerPreference?: GPUPowerPreference;
  /** Ask for the `subgroups` feature where the adapter grants it; default true. */
  subgroups?: boolean;
  /** Ask for `shader-f16` where available; default true. */
  shaderF16?: boolean;
  /** Ask for `timestamp-query` where available; default true. */
  timestamps?: boolean;
}

/** What to tell a user whose machine yields no adapter. */
export const NO_ADAPTER_HELP =
  "No WebGPU adapter found: install or update the GPU driver; on Linux without a GPU, install the software Vulkan adapter with `apt-get install mesa-vulkan-drivers`; DENO_WEBGPU_BACKEND=vulkan|metal|dx12|gl picks a backend";

/** The limits requestDevice() raises to the adapter's maximum (and `cli info` prints). */
export const KERNEL_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

/**
 * Requests a high-performance adapter and a device with the adapter's largest
 * buffer, workgroup-storage and invocation limits, plus `timestamp-query`,
 * `shader-f16` and `subgroups` where granted (Deno does not list `subgroups`
 * among the adapter's features but grants it on Vulkan, so it is tried).
 *
 * @param options Which optional features to ask for.
 * @returns A device; `device.features` says what was granted.
 * @throws {Error} If no adapter exists, with what to install.
 * @example GPU
 * ```ts ignore
 * import { requestDevice } from "@kquant/webgpu";
 * const device = await requestDevice();
 * console.log(device.features.has("subgroups"));
 * ```
 */
export async function requestDevice(options: RequestDeviceOptions = {}): Promise<GPUDevice> {
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Cannot request device: options must be an object, current value is ${String(options)}`,
    );
  }
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new Error(`${NO_ADAPTER_HELP} (navigator.gpu is missing)`);
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  return await requestDeviceFrom(adapter, options);
}

/**
 * The same as {@linkcode requestDevice} for an adapter already in hand.
 *
 * @param adapter The adapter.
 * @param options Which optional features to ask for.
 * @returns The device.
 * @example GPU
 * ```ts ignore
 * import { requestDeviceFrom } from "@kquant/webgpu";
 * const adapter = await navigator.gpu.requestAdapter();
 * const device = await requestDeviceFrom(adapter!, { subgroups: false });
 * ```
 */
export async function requestDeviceFrom(
  adapter: GPUAdapter,
  options: RequestDeviceOptions = {},
): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of KERNEL_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const features: GPUFeatureName[] = [];
  if (options.timestamps !== false && adapter.features.has("timestamp-query")) {
    features.push("timestamp-query");
  }
  if (options.shaderF16 !== false && adapter.features.has("shader-f16")) {
    features.push("shader-f16");
  }
  let device: GPUDevice | null = null;
  if (options.subgroups !== false) {
    try {
      device = await adapter.requestDevice({
        requiredFeatures: [...features, "subgroups" as GPUFeatureName],
        requiredLimits,
      });
    } catch {
      // Not granted here; fall through to a device without subgroups.
    }
  }
  device ??= await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  // The caller may drop the adapter; Deno must not free it while the device lives.
  keepAdapter(device, adapter);
  // The mat-vec butterflies assume consecutive invocations form a subgroup: check once.
  await probeSubgroupLayout(device);
  return device;
}
