/**
 * This library's kernels as an {@linkcode Implementation}, so the
 * conformance suite and the bench run them through the same seam as anyone
 * else's: `q5kImplementation()` is the default (`"auto"`), and forced kernel
 * families or activation paths are options of it.
 *
 * @module
 */

import type { Implementation, LinearImpl } from "./implementation.ts";
import {
  type Activations,
  type LinearVariant,
  Q5KLinear,
  type Reduction,
  withInternals,
} from "./linear.ts";
import { Q5KEmbedding } from "./embedding.ts";
import { subgroupLayout } from "./subgroup_layout.ts";

/** Which of this library's kernels an implementation runs. */
export interface Q5KImplementationOptions {
  /** Kernel family (default `"auto"`). */
  variant?: LinearVariant;
  /** Mat-vec reduction (default `"auto"`). */
  reduction?: Reduction;
  /**
   * Activations (default `"auto"`); `"int24"` forces the mat-vec on 24-bit
   * activations at every M (`activations: "auto"` with the 24-bit limit
   * raised), where WGSL has `dot4I8Packed`.
   */
  activations?: Activations | "int24";
}

/**
 * This library as an implementation: `Q5KLinear` and `Q5KEmbedding` with the
 * given options. Its `describe(m, shared)` names the family that runs and its
 * activations, e.g. `auto→matvec-int24/subgroup`.
 *
 * @param options Which kernels; the library's default when empty.
 * @returns The implementation, named `kquant` plus the options that differ from the default.
 * @example
 * ```ts
 * import { q5kImplementation } from "@kquant/webgpu";
 * const tiled = q5kImplementation({ variant: "tiled", activations: "f32" });
 * console.log(tiled.name); // "kquant:tiled/f32"
 * ```
 */
export function q5kImplementation(options: Q5KImplementationOptions = {}): Implementation {
  const variant = options.variant ?? "auto";
  const reduction = options.reduction ?? "auto";
  const activations = options.activations ?? "auto";
  const wide = activations === "int24";
  const parts = [
    variant === "auto" ? "" : variant,
    reduction === "auto" ? "" : reduction,
    activations === "auto" ? "" : activations,
  ].filter(Boolean);
  return {
    name: parts.length ? `kquant:${parts.join("/")}` : "kquant",
    precision: activations === "int8" ? "int8" : "f32",
    unsupported(device) {
      if (reduction !== "subgroup") return null;
      const layout = subgroupLayout(device);
      return layout.linear && layout.minSize >= 4
        ? null
        : `the subgroup reduction needs consecutive subgroups of at least 4 lanes, this device has ${
          layout.linear ? `${layout.minSize}` : "non-consecutive ones"
        }`;
    },
    linear(device, weights, { n, k }): LinearImpl {
      const layer = Q5KLinear.create(
        device,
        weights,
        withInternals({
          n,
          k,
          variant,
          reduction,
          activations: wide ? "auto" : activations,
          // The 24-bit mat-vec at every M up to any the caller runs.
          ...(wide ? { wideMatvecM: 1 << 20 } : {}),
        }),
      );
      return {
        run: (x, m) => layer.run(x, m),
        encode: (encoder, x, y, m, tw) => layer.encode(encoder, x, y, m, tw),
        record: (pass, x, y, m) => layer.record(pass, x, y, m),
        describe: (m, shared = false) => describeLayer(layer, m, shared),
        destroy: () => layer.destroy(),
      };
    },
    embedding(device, table, { rows, k }) {
      return Q5KEmbedding.create(device, table, { rows, k });
    },
  };
}

/** The family a layer runs at M and how it multiplies, e.g. `auto→matvec-int24/subgroup`. */
export function describeLayer(layer: Q5KLinear, m: number, shared = false): string {
  const family = layer.kernelFor(m, shared);
  const multiplies = layer.activationsFor(m, shared);
  const tag = multiplies === "f32" ? "" : `-${multiplies}`;
  return `${layer.variant === "auto" ? `auto→${family}` : family}${tag}${
    family === "matvec" ? `/${layer.reduction}` : ""
  }`;
}
