/**
 * What a bench run would ask of the device and the host, checked before any
 * timing: a shape or M the device cannot hold is named up front instead of
 * failing (or timing nothing) halfway through the run.
 *
 * @module
 */

import { type BenchConfig, compactNames } from "./sweep.ts";

const q5kBytes = (rows: number, k: number) => rows * (k / 256) * 176;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/**
 * Every problem with `config` on `device`, each a line naming the flag and
 * value; empty when the run can go ahead.
 *
 * @param hostBytes Host memory the run may use (the generated weights live there first).
 */
export function benchProblems(
  device: GPUDevice,
  config: BenchConfig,
  hostBytes = Infinity,
): string[] {
  const binding = device.limits.maxStorageBufferBindingSize;
  const buffer = device.limits.maxBufferSize;
  const problems: string[] = [];
  const fits = (flag: string, what: string, bytes: number, limit: number, name: string) => {
    if (bytes > limit) {
      problems.push(
        `${flag}: ${what} needs ${bytes} bytes (${
          mib(bytes)
        }), more than the device's ${name} of ${limit} (${mib(limit)})`,
      );
    }
  };
  if (config.ops.includes("linear")) {
    const maxM = Math.max(...config.ms);
    for (const { n, k, names } of config.shapes) {
      const flag = names ? `--gguf ${compactNames(names)} (${n}x${k})` : `--shape ${n}x${k}`;
      fits(flag, "the Q5_K weights", q5kBytes(n, k), buffer, "the device's maxBufferSize");
      fits(flag, "the weights in host memory", q5kBytes(n, k), hostBytes, "free host memory");
      fits(
        `${flag} --m ${maxM}`,
        "x (M·K·4)",
        maxM * k * 4,
        binding,
        "the device's maxStorageBufferBindingSize",
      );
      fits(
        `${flag} --m ${maxM}`,
        "y (M·N·4)",
        maxM * n * 4,
        binding,
        "the device's maxStorageBufferBindingSize",
      );
      if (config.dense) {
        fits(
          `${flag} (dense baseline; --no-dense skips it)`,
          "f16 weights (N·K·2)",
          n * k * 2,
          binding,
          "the device's maxStorageBufferBindingSize",
        );
      }
    }
  }
  if (config.ops.includes("embedding")) {
    const { rows, k, counts, name } = config.embedding;
    const flag = name ? `--gguf ${name} (${rows}x${k})` : `--table ${rows}x${k}`;
    fits(flag, "the Q5_K table", q5kBytes(rows, k), buffer, "the device's maxBufferSize");
    fits(flag, "the table in host memory", q5kBytes(rows, k), hostBytes, "free host memory");
    const most = Math.max(...counts);
    fits(
      `${flag} --ids ${most}`,
      "y (ids·K·4)",
      most * k * 4,
      binding,
      "the device's maxStorageBufferBindingSize",
    );
  }
  return problems;
}
