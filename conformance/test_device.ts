/**
 * One WebGPU device per test module, destroyed when the module unloads, so no
 * device (and no software-adapter worker thread) outlives the tests that used
 * it when `deno test` moves on or the process exits.
 *
 * @module
 */

import { requestDevice } from "../kernels/device.ts";

/** The device for this test module. */
export async function testDevice(): Promise<GPUDevice> {
  const device = await requestDevice();
  globalThis.addEventListener("unload", () => device.destroy());
  return device;
}
