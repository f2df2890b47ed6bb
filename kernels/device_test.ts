import assert from "node:assert/strict";
import { requestDevice } from "./device.ts";

Deno.test("requestDevice() asks for the adapter's largest limits and its optional features", async () => {
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  const device = await requestDevice();
  assert.equal(
    device.limits.maxStorageBufferBindingSize,
    adapter!.limits.maxStorageBufferBindingSize,
  );
  assert.equal(device.limits.maxBufferSize, adapter!.limits.maxBufferSize);
  assert.equal(
    device.limits.maxComputeWorkgroupStorageSize,
    adapter!.limits.maxComputeWorkgroupStorageSize,
  );
  if (adapter!.features.has("timestamp-query")) assert.ok(device.features.has("timestamp-query"));
  device.destroy();
  const plain = await requestDevice({ subgroups: false, timestamps: false });
  assert.ok(!plain.features.has("subgroups" as GPUFeatureName));
  assert.ok(!plain.features.has("timestamp-query"));
  plain.destroy();
});

Deno.test("requestDevice() rejects options that are not an object", async () => {
  await assert.rejects(requestDevice(5 as never), TypeError, "current value is 5");
  const device = await requestDevice();
  assert.ok(device instanceof GPUDevice);
  device.destroy();
});
