/**
 * Command-line parsing for `cli/main.ts`, pure so it can be tested.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { BenchVariant } from "../bench/sweep.ts";

/** The row families `bench --variant` takes, in the order `all` runs them. */
export const BENCH_VARIANTS = [
  "auto",
  "matvec",
  "rowlane",
  "tiled",
  "matvec-int24",
  "int8",
  "rowlane-int8",
  "tiled-int8",
] as const satisfies readonly BenchVariant[];

/** A mistake in the command line: printed as one line plus usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The parsed command line. */
export type Command =
  | { command: "help"; topic?: string }
  | { command: "bench"; options: BenchOptions }
  | { command: "conform"; options: ConformOptions }
  | { command: "info"; options: InfoOptions }
  | { command: "serve"; options: ServeOptions };

/** Options of `serve`. */
export interface ServeOptions {
  /** The port (0: any free one). */
  port: number;
}

/** Options of `bench`. */
export interface BenchOptions {
  shapes?: { n: number; k: number }[];
  ms?: number[];
  ops: ("linear" | "embedding")[];
  variants: BenchVariant[];
  table?: { rows: number; k: number };
  ids?: number[];
  minTimeMs?: number;
  iters?: number;
  backend?: string;
  format: "table" | "json" | "csv";
  out?: string;
  chart?: string;
  vsLlamaCpp: boolean;
  ggmlLib?: string;
  dense: boolean;
  quiet: boolean;
  wallClock: boolean;
  /** Implementation modules to time beside this library's kernels. */
  impls: string[];
  /** Time this GGUF file's Q5_K shapes (and its Q5_K token_embd) instead of the synthetic ones. */
  gguf?: string;
}

/** Options of `conform`. */
export interface ConformOptions {
  vectorsOnly: boolean;
  /** Implementation modules to check instead of this library's kernels. */
  impls: string[];
  backend?: string;
  quiet: boolean;
  /** Only linear cases of M at most this (embedding cases always run). */
  maxM?: number;
  /** Check this GGUF file's Q5_K tensors instead of the conformance cases. */
  gguf?: string;
  /** With gguf: rows checked per tensor (a seeded sample of larger ones); Infinity for all. */
  rows?: number;
}

/** Options of `info`. */
export interface InfoOptions {
  backend?: string;
  json: boolean;
  /** Describe this GGUF file instead of the adapter. */
  gguf?: string;
}

const COMMANDS = `Usage: deno run -A cli/main.ts <command> [flags]

Commands:
  bench     time Q5_K linear across batch sizes M and embedding across id counts
  conform   run the conformance cases against llama.cpp on this GPU
  info      describe the adapter, its limits and the dispatch crossover
  serve     serve the browser page (conformance and bench on the browser's WebGPU)
  help      this text

Run 'deno run -A cli/main.ts <command> --help' for a command's flags.`;

const EXAMPLES = `Examples:
  deno run -A cli/main.ts bench
  deno run -A cli/main.ts bench --shape 14336x4096 --m 1,8,64 --variant all
  deno run -A cli/main.ts bench --op linear --vs llama.cpp --json --out results.json --chart results.svg
  deno run -A cli/main.ts conform --vectors-only
  deno run -A cli/main.ts conform --impl examples/naive_q5k.ts
  deno task fixture && deno run -A cli/main.ts bench --gguf fixture.gguf --m 1,8,64
  deno run -A cli/main.ts info
  deno run -A cli/main.ts serve --port 8000`;

/** Each command's flags, as `<command> --help` prints them. */
const FLAGS: Record<string, string> = {
  bench: `Usage: deno run -A cli/main.ts bench [flags]

  --shape NxK           weight shape, repeatable (default 4096x4096, 14336x4096, 4096x14336)
  --gguf FILE           time this GGUF file's Q5_K weights instead: each distinct shape (its
                        tensors named), token_embd as the embedding where it is Q5_K, the
                        whole model's Q5_K time per M and the upload rate; other tensors
                        are listed as skipped
  --m LIST              batch sizes, e.g. 1,2,8 (default 1,2,3,4,5,8,16,32,64,128,256,512)
  --op OP               linear | embedding | all (default all)
  --variant V           auto | matvec | rowlane | tiled | matvec-int24 | int8 | rowlane-int8 |
                        tiled-int8 |
                        all (default auto; all shows the crossovers; auto = the
                        library's default, 24-bit activations for the small-M mat-vec
                        where measured faster; matvec, rowlane, tiled = one family with
                        f32 products; rowlane = the lane-per-row kernel for small
                        batches; matvec-int24 = the mat-vec on 24-bit activations at
                        every M; int8, rowlane-int8, tiled-int8 = the mat-vec,
                        lane-per-row and tiled kernels with the opt-in 8-bit
                        activations, reported apart)
  --table ROWSxK        embedding table (default 128256x4096)
  --ids LIST            embedding id counts (default 1,16,128,512,4096)
  --min-time SECONDS    GPU time to sample per case (default 1; 0.1 on a software adapter)
  --iters N             at most N samples per case (default 100000)
  --backend B           vulkan | metal | dx12 | gl (sets DENO_WEBGPU_BACKEND)
  --json | --csv        machine-readable output instead of the table
  --out FILE            write the output to FILE instead of stdout
  --chart FILE.svg      also write an SVG chart of latency and GB/s against M
  --vs llama.cpp        time llama.cpp's own MUL_MAT/GET_ROWS in the same run
  --ggml-lib DIR        folder with libggml-base.so (and libggml-vulkan.so) for --vs
  --impl PATH|URL       also time this implementation module beside kquant's (repeatable;
                        it runs with the permissions you gave Deno)
  --no-dense            skip the dense f16 baseline
  --wall-clock          time by wall clock even where GPU timestamps exist
  --quiet               no progress on stderr`,
  conform: `Usage: deno run -A cli/main.ts conform [flags]

  --impl PATH|URL       check this implementation module instead of kquant's kernels
                        (repeatable; its default export is an Implementation, see the API
                        docs; it runs with the permissions you gave Deno)
  --vectors-only        only the committed llama.cpp vectors (no live oracle)
  --gguf FILE           check this GGUF file's Q5_K tensors instead: every family at
                        M = 1, 8, 64 against the f64 reference over llama.cpp's
                        dequantization and llama.cpp's ggml_mul_mat; token_embd (if Q5_K)
                        as an embedding against dequantize_row_q5_K (needs llama.cpp)
  --rows N|all          with --gguf: rows checked per tensor (default 256; larger tensors
                        get a seeded sample of N rows, said in the output)
  --max-m N             only linear cases with M ≤ N (every embedding case still runs);
                        on a software GL adapter the M = 64…130 kernels take minutes to compile
  --backend B           vulkan | metal | dx12 | gl (sets DENO_WEBGPU_BACKEND)
  --quiet               print failures and the summary only`,
  serve: `Usage: deno run -A cli/main.ts serve [flags]

  --port N              the port on 127.0.0.1 (default 8000; 0: any free one)

  Open the printed URL in a browser with WebGPU; ?run=conform or ?run=bench starts a
  run at once, ?impl=URL checks and times that implementation module.`,
  info: `Usage: deno run -A cli/main.ts info [flags]

  --backend B           vulkan | metal | dx12 | gl (sets DENO_WEBGPU_BACKEND)
  --gguf FILE           describe a GGUF file instead: architecture, bytes per type, the
                        distinct Q5_K shapes (deno task fixture writes a small one)
  --json                print one JSON object`,
};

/** The whole help: commands, every command's flags, examples. */
export const USAGE: string = [
  COMMANDS,
  ...Object.entries(FLAGS).map(([c, text]) =>
    `${c} flags:\n${text.split("\n\n").slice(1).join("\n\n")}`
  ),
  EXAMPLES,
].join("\n\n");

/** The help for `topic` (a command: its flags only), or the whole help. */
export function helpFor(topic?: string): string {
  return topic && topic in FLAGS ? FLAGS[topic] : USAGE;
}

const BACKENDS = ["vulkan", "metal", "dx12", "gl"];

function positiveInt(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`${flag} must be a positive integer, current value is "${text}"`);
  }
  const v = Number(text);
  if (v < 1 || !Number.isSafeInteger(v)) {
    throw new UsageError(`${flag} must be a positive integer, current value is "${text}"`);
  }
  return v;
}

/** Parses a comma-separated list of positive integers; throws a UsageError naming `text` otherwise. */
export function intList(flag: string, text: string): number[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) {
    throw new UsageError(`${flag} must list at least one number, current value is "${text}"`);
  }
  return parts.map((p) => positiveInt(flag, p));
}

function shape(flag: string, text: string): { n: number; k: number } {
  const m = /^(\d+)[x×](\d+)$/i.exec(text.trim());
  if (!m) {
    throw new UsageError(`${flag} must look like NxK (e.g. 4096x4096), current value is "${text}"`);
  }
  const n = positiveInt(flag, m[1]);
  const k = positiveInt(flag, m[2]);
  if (k % 256 !== 0) {
    throw new UsageError(`${flag} K must be a multiple of 256, current value is ${k}`);
  }
  return { n, k };
}

function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) {
    throw new UsageError(
      `${flag} must be one of ${allowed.join(", ")}, current value is "${text}"`,
    );
  }
  return text as T;
}

function parse(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; multiple?: boolean }>,
): { values: Record<string, string | boolean | (string | boolean)[] | undefined> } {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    const message = (error as Error).message.split("\n")[0];
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
    if (ambiguous) {
      const value = args[args.indexOf(ambiguous[1]) + 1];
      // A value that starts with "-" reads as a flag to parseArgs; a number
      // there (--m -1) is a bad value, not a missing one.
      const what = /^-[\d.]/.test(value) ? "must be a positive integer" : "must be given a value";
      throw new UsageError(`${ambiguous[1]} ${what}, current value is "${value}"`);
    }
    throw new UsageError(message.replace(/\.$/, ""));
  }
}

/**
 * Parses the arguments after `cli/main.ts`.
 *
 * @throws {UsageError} For an unknown command or flag, a bad number, list or shape.
 */
export function parseCommand(argv: string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    return { command: "help", topic: rest[0] };
  }
  if (command === "bench") return parseBench(rest);
  if (command === "conform") {
    const { values } = parse(rest, {
      "vectors-only": { type: "boolean" },
      impl: { type: "string", multiple: true },
      backend: { type: "string" },
      quiet: { type: "boolean" },
      "max-m": { type: "string" },
      gguf: { type: "string" },
      rows: { type: "string" },
    });
    if (values.help) return { command: "help", topic: "conform" };
    if (values.rows !== undefined && values.gguf === undefined) {
      throw new UsageError(`--rows needs --gguf, current value is "${values.rows}" alone`);
    }
    if (values.gguf !== undefined && values["vectors-only"]) {
      throw new UsageError(
        "--gguf needs llama.cpp's dequantization, current value is --gguf with --vectors-only",
      );
    }
    return {
      command: "conform",
      options: {
        vectorsOnly: values["vectors-only"] === true,
        impls: (values.impl as string[] | undefined) ?? [],
        backend: values.backend === undefined
          ? undefined
          : oneOf("--backend", values.backend as string, BACKENDS),
        quiet: values.quiet === true,
        ...(values["max-m"] === undefined
          ? {}
          : { maxM: positiveInt("--max-m", values["max-m"] as string) }),
        ...(values.gguf === undefined ? {} : { gguf: values.gguf as string }),
        ...(values.rows === undefined ? {} : {
          rows: values.rows === "all" ? Infinity : positiveInt("--rows", values.rows as string),
        }),
      },
    };
  }
  if (command === "info") {
    const { values } = parse(rest, {
      backend: { type: "string" },
      json: { type: "boolean" },
      gguf: { type: "string" },
    });
    if (values.help) return { command: "help", topic: "info" };
    return {
      command: "info",
      options: {
        backend: values.backend === undefined
          ? undefined
          : oneOf("--backend", values.backend as string, BACKENDS),
        json: values.json === true,
        ...(values.gguf === undefined ? {} : { gguf: values.gguf as string }),
      },
    };
  }
  if (command === "serve") {
    const { values } = parse(rest, { port: { type: "string" } });
    if (values.help) return { command: "help", topic: "serve" };
    const text = (values.port as string | undefined) ?? "8000";
    if (!/^\d+$/.test(text) || Number(text) > 65535) {
      throw new UsageError(`--port must be an integer in 0..65535, current value is "${text}"`);
    }
    return { command: "serve", options: { port: Number(text) } };
  }
  throw new UsageError(
    `unknown command "${command}" (expected bench, conform, info, serve or help)`,
  );
}

function parseBench(rest: string[]): Command {
  const { values: v } = parse(rest, {
    shape: { type: "string", multiple: true },
    m: { type: "string" },
    op: { type: "string" },
    variant: { type: "string" },
    table: { type: "string" },
    ids: { type: "string" },
    "min-time": { type: "string" },
    iters: { type: "string" },
    backend: { type: "string" },
    json: { type: "boolean" },
    csv: { type: "boolean" },
    out: { type: "string" },
    chart: { type: "string" },
    vs: { type: "string" },
    "ggml-lib": { type: "string" },
    "no-dense": { type: "boolean" },
    "wall-clock": { type: "boolean" },
    quiet: { type: "boolean" },
    impl: { type: "string", multiple: true },
    gguf: { type: "string" },
  });
  if (v.help) return { command: "help", topic: "bench" };
  for (const flag of ["shape", "table"] as const) {
    if (v.gguf !== undefined && v[flag] !== undefined) {
      throw new UsageError(
        `--${flag} cannot be used with --gguf (the file gives the shapes), current value is "${
          (v[flag] as string[] | string).toString()
        }"`,
      );
    }
  }
  if (v.json && v.csv) {
    throw new UsageError("--json and --csv cannot be used together, current value is both");
  }
  const op = oneOf(
    "--op",
    (v.op as string | undefined) ?? "all",
    ["linear", "embedding", "all"] as const,
  );
  const variant = oneOf(
    "--variant",
    (v.variant as string | undefined) ?? "auto",
    [...BENCH_VARIANTS, "all"] as const,
  );
  let minTimeMs: number | undefined;
  if (v["min-time"] !== undefined) {
    const text = v["min-time"] as string;
    const s = Number(text);
    if (text.trim() === "" || !Number.isFinite(s) || s <= 0) {
      throw new UsageError(
        `--min-time must be a positive number of seconds, current value is "${text}"`,
      );
    }
    minTimeMs = s * 1000;
  }
  if (v.vs !== undefined && v.vs !== "llama.cpp") {
    throw new UsageError(`--vs must be llama.cpp, current value is "${v.vs}"`);
  }
  if (v.chart !== undefined && !(v.chart as string).endsWith(".svg")) {
    throw new UsageError(`--chart must name an .svg file, current value is "${v.chart}"`);
  }
  let table: { rows: number; k: number } | undefined;
  if (v.table !== undefined) {
    const s = shape("--table", v.table as string);
    table = { rows: s.n, k: s.k };
  }
  return {
    command: "bench",
    options: {
      shapes: (v.shape as string[] | undefined)?.map((s) => shape("--shape", s)),
      ms: v.m === undefined ? undefined : intList("--m", v.m as string),
      ops: op === "all" ? ["linear", "embedding"] : [op],
      variants: variant === "all" ? [...BENCH_VARIANTS] : [variant],
      table,
      ids: v.ids === undefined ? undefined : intList("--ids", v.ids as string),
      minTimeMs,
      iters: v.iters === undefined ? undefined : positiveInt("--iters", v.iters as string),
      backend: v.backend === undefined
        ? undefined
        : oneOf("--backend", v.backend as string, BACKENDS),
      format: v.json ? "json" : v.csv ? "csv" : "table",
      out: v.out as string | undefined,
      chart: v.chart as string | undefined,
      vsLlamaCpp: v.vs === "llama.cpp",
      ggmlLib: v["ggml-lib"] as string | undefined,
      dense: v["no-dense"] !== true,
      quiet: v.quiet === true,
      wallClock: v["wall-clock"] === true,
      impls: (v.impl as string[] | undefined) ?? [],
      ...(v.gguf === undefined ? {} : { gguf: v.gguf as string }),
    },
  };
}
