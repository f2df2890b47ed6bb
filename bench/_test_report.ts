// Test support: a bench report around given results, as the chart and report tests need.

import type { BenchReport, BenchResult } from "./sweep.ts";
import { crossoverFor } from "../kernels/crossover.ts";
import type { Crossover } from "../kernels/crossover.ts";

/** A report of `results` on a made-up Vulkan adapter (default crossover: the fallback's). */
export function testReport(
  results: BenchResult[],
  crossover: Crossover = crossoverFor(undefined),
): BenchReport {
  return {
    adapter: { vendor: "v", architecture: "a", device: "d", description: "test" },
    backend: "vulkan",
    features: [],
    clock: "gpu-timestamp",
    tick: "1 ns",
    ceilingGBs: 100,
    ceilingBytes: 1 << 20,
    software: false,
    scaledDown: false,
    crossoverM: crossover.maxMatvecM,
    crossover,
    measuredCrossover: [],
    date: "2026-01-01T00:00:00Z",
    results,
  } as BenchReport;
}
