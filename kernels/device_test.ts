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

Deno.test("requestDevice() probes the subgroup layout the mat-vec reduction relies on", async () => {
  const { subgroupLayout } = await import("./subgroup_layout.ts");
  const device = await requestDevice();
  const layout = subgroupLayout(device);
  assert.equal(layout.source, "probed");
  if (device.features.has("subgroups" as GPUFeatureName)) {
    assert.ok(layout.linear, "consecutive invocations form subgroups on this adapter");
    assert.ok(layout.minSize >= 4);
  } else {
    assert.equal(layout.minSize, 0);
  }
  device.destroy();
});

Deno.test("subgroupLayout() and probeSubgroupLayout() reject what is not a device, and keep working", async () => {
  const { probeSubgroupLayout, subgroupLayout } = await import("./subgroup_layout.ts");
  assert.throws(() => subgroupLayout(undefined as never), TypeError, "current value is undefined");
  assert.throws(() => subgroupLayout({} as never), TypeError, "must be a GPUDevice");
  await assert.rejects(probeSubgroupLayout(5 as never), TypeError, "current value is 5");
  const device = await requestDevice();
  assert.equal((await probeSubgroupLayout(device)).source, "probed");
  assert.equal(subgroupLayout(device).source, "probed");
  device.destroy();
});
