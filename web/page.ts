/// <reference lib="dom" />
// The browser page's script (bundled by `deno run -A cli/main.ts serve` or
// `deno task bundle:page`): the same conformance suite, case list, bounds and
// comparisons as `conform --vectors-only`, and a latency bench, on the
// browser's WebGPU. `?run=conform` or `?run=bench` starts a run without a
// click; `?impl=URL` checks and times that implementation module instead of
// (conform) or beside (bench) this library's kernels. The page's title becomes
// "done" when a run ends, "error" when it cannot start.
import { requestDeviceFrom } from "../kernels/device.ts";
import { KERNEL_LIMITS, NO_ADAPTER_HELP } from "../kernels/device.ts";
import { hasPackedDot, Q5KLinear } from "../kernels/linear.ts";
import { subgroupLayout } from "../kernels/subgroup_layout.ts";
import { makeQ5KBlob } from "../kernels/make_blob.ts";
import { checkImplementation, type Implementation } from "../kernels/implementation.ts";
import { q5kImplementation } from "../kernels/q5k_implementation.ts";
import { ourImplementations, resultLine, runSuite, Tally } from "../conformance/suite.ts";
import { GpuTimer } from "../bench/timing.ts";
import { renderChart } from "../bench/chart.ts";
import type { BenchReport, BenchResult } from "../bench/sweep.ts";

const $ = (id: string) => document.getElementById(id)!;
const params = new URLSearchParams(location.search);

function stop(message: string): void {
  $("status").textContent = message;
  document.title = "error";
}

async function implFromUrl(): Promise<Implementation | null> {
  const url = params.get("impl") || ($("impl") as HTMLInputElement).value.trim();
  if (!url) return null;
  const module = await import(new URL(url, location.href).href);
  return checkImplementation(module.default, url);
}

async function conform(device: GPUDevice): Promise<void> {
  const mine = await implFromUrl();
  const lines: string[] = [];
  const tally = new Tally();
  $("summary").textContent = "running…";
  await runSuite(device, null, (source, r) => {
    tally.add(r);
    lines.push(resultLine(source, r));
    $("results").textContent = lines.join("\n");
  }, { impls: mine ? [mine] : ourImplementations(device) });
  $("summary").textContent = tally.line();
  document.title = "done";
}

async function bench(device: GPUDevice): Promise<void> {
  const [n, k] = (params.get("shape") ?? "4096x4096").split("x").map(Number);
  const ms = (params.get("m") ?? "1,2,4,8,16,64").split(",").map(Number);
  const mine = await implFromUrl();
  const impls = [q5kImplementation(), ...(mine ? [mine] : [])];
  const timer = new GpuTimer(device);
  const clock = timer.clock === "gpu-timestamp" ? "GPU timestamps" : "wall clock";
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const x = device.createBuffer({ size: Math.max(...ms) * k * 4, usage });
  device.queue.writeBuffer(x, 0, new Float32Array(Math.max(...ms) * k).fill(0.5));
  const y = device.createBuffer({ size: Math.max(...ms) * n * 4, usage });
  const blob = makeQ5KBlob(n, k, { seed: 1 });
  const rows: string[] = [];
  const results: BenchResult[] = [];
  for (const impl of impls) {
    const layer = await impl.linear!(device, blob, { n, k });
    for (const m of ms) {
      $("benchOut").textContent = `timing ${impl.name} ${n}×${k} M = ${m}…`;
      if (!layer.encode) break;
      const t = await timer.measure(
        (encoder, tw) => layer.encode!(encoder, x, y, m, tw),
        { minTimeMs: 300, maxIters: 10000, warmup: 3, warmupMs: 50 },
      );
      const gbps = (n * (k / 256) * 176 + m * (n + k) * 4) / (t.medianUs * 1e3);
      results.push({
        op: "linear",
        impl: impl.name,
        variant: impl === impls[0] ? "auto" : impl.name,
        m,
        n,
        k,
        medianUs: t.medianUs,
        p10Us: t.p10Us,
        p90Us: t.p90Us,
        gbps,
        gflops: (2 * m * n * k) / (t.medianUs * 1e3),
        pctOfCeiling: 0,
      });
      rows.push(
        `<tr><td>${impl.name}</td><td>${layer.describe?.(m) ?? ""}</td><td>${m}</td><td>${
          t.medianUs.toFixed(1)
        }</td><td>${t.p10Us.toFixed(1)}</td><td>${t.p90Us.toFixed(1)}</td><td>${
          gbps.toFixed(1)
        }</td></tr>`,
      );
    }
    layer.destroy();
  }
  for (const b of [x, y]) b.destroy();
  // The CLI's chart, from the same rows (no read ceiling is measured here).
  const report = {
    adapter: { vendor: "", architecture: "", device: "", description: "this browser's adapter" },
    backend: "browser WebGPU",
    clock: timer.clock,
    ceilingGBs: 0,
    results,
  } as unknown as BenchReport;
  $("benchOut").innerHTML = `<p>${n}×${k}, µs per pass by ${clock}</p><table><tr><th>impl</th>` +
    `<th>kernel</th><th>M</th><th>median µs</th><th>p10</th><th>p90</th><th>GB/s</th></tr>${
      rows.join("")
    }</table>${renderChart(report)}`;
  document.title = "done";
}

async function main(): Promise<void> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return stop(
      "This browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+ (Safari 26, Firefox 141 on Windows), over https or localhost; on Linux start Chrome with --enable-unsafe-webgpu.",
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return stop(`${NO_ADAPTER_HELP}. In Chrome, chrome://gpu says why.`);
  const device = await requestDeviceFrom(adapter);
  const layer = Q5KLinear.create(device, makeQ5KBlob(16, 256), { n: 16, k: 256 });
  const limits = Object.fromEntries(
    [...KERNEL_LIMITS, "minStorageBufferOffsetAlignment"].map((
      name,
    ) => [name, (device.limits as unknown as Record<string, number>)[name]]),
  );
  $("adapter").textContent = JSON.stringify(
    {
      adapter: {
        vendor: adapter.info.vendor,
        architecture: adapter.info.architecture,
        device: adapter.info.device,
        description: adapter.info.description,
      },
      features: [...device.features].sort(),
      limits,
      subgroups: subgroupLayout(device),
      reduction: layer.reduction,
      kernelAtM1: layer.kernelFor(1),
      dot4I8Packed: hasPackedDot(),
    },
    null,
    1,
  );
  layer.destroy();
  $("status").textContent = "Ready.";
  $("conform").onclick = () => conform(device).catch((e) => stop(`conformance: ${e}`));
  $("bench").onclick = () => bench(device).catch((e) => stop(`bench: ${e}`));
  const run = params.get("run");
  if (run === "conform") await conform(device);
  else if (run === "bench") await bench(device);
}

main().catch((e) => stop(`Could not start: ${e}`));
