// What every command shares: its two output streams and opening the device.

import { NO_ADAPTER_HELP, requestDeviceFrom } from "../kernels/device.ts";

/** A line to stdout (results). */
// deno-lint-ignore no-console
export const out = (s: string): void => console.log(s);
/** A line to stderr (progress, errors). */
// deno-lint-ignore no-console
export const err = (s: string): void => console.error(s);

/** No WebGPU adapter: the message says what to try. */
export class NoAdapterError extends Error {}

/** The high-performance adapter and a device from it, on `backend` where given. */
export async function openDevice(
  backend?: string,
): Promise<{ adapter: GPUAdapter; device: GPUDevice }> {
  // Deno reads DENO_WEBGPU_BACKEND when the first adapter is requested.
  if (backend) Deno.env.set("DENO_WEBGPU_BACKEND", backend);
  const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new NoAdapterError(NO_ADAPTER_HELP);
  return { adapter, device: await requestDeviceFrom(adapter) };
}
