/**
 * One WebGPU device per test module, destroyed when the module unloads, so no
 * device (and no software-adapter worker thread) outlives the tests that used
 * it when `deno test` moves on or the process exits.
 *
 * @module
 */

import { requestDevice } from "../kernels/device.ts";
import { envVar } from "../kernels/_env.ts";

/** The device for this test module. */
export async function testDevice(): Promise<GPUDevice> {
  const device = await requestDevice();
  globalThis.addEventListener("unload", () => device.destroy());
  return device;
}

/**
 * Whether tests can run the K-major tiled kernel's 48 KiB tiles on `device`:
 * where it reports 48 KiB of workgroup memory, or on Vulkan, where lavapipe
 * reports 32 KiB but runs them (Deno 2.9.6 does not check a shader's
 * workgroup memory against the limit). Deno's GL backend and Metal hold to
 * their 32 KiB (GL returned wrong sums for a 36 KB tile at 91c6956).
 */
export function runs48KiBTiles(device: GPUDevice): boolean {
  if (device.limits.maxComputeWorkgroupStorageSize >= 49152) return true;
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND");
  return backend === "vulkan" || (!backend && Deno.build.os === "linux");
}

/**
 * Whether the full suite runs (`KQUANT_TEST_FULL=1`, which `deno task
 * test:full` and CI set): it adds the GL-backend conformance sweep and the
 * experiment scripts' kernels, which on a software adapter with a cold Mesa
 * shader cache take minutes to compile.
 */
export const FULL_SUITE = envVar("KQUANT_TEST_FULL") === "1";

/** `Deno.test` in the full suite, `Deno.test.ignore` (listed as ignored) otherwise. */
export const fullTest: typeof Deno.test.ignore = FULL_SUITE ? Deno.test : Deno.test.ignore;
