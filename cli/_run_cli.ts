// Test support: runs cli/main.ts in a subprocess and captures its output.

const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** Runs `deno run -A cli/main.ts ...args`; its exit code, stdout and stderr. */
export async function cli(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const ROOT = new URL("../", import.meta.url);
const EXAMPLE = new URL("examples/naive_q5k.ts", ROOT);

/**
 * A copy of examples/naive_q5k.ts with `from` replaced by `to` (which must
 * occur), in a temp dir of its own; remove the dir when done.
 */
export async function broken(from: string, to: string): Promise<string> {
  const text = await Deno.readTextFile(EXAMPLE);
  if (!text.includes(from)) throw new Error(`the example no longer has ${from}`);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/broken.ts`;
  await Deno.writeTextFile(
    path,
    text.replace(from, to).replace('"../mod.ts"', JSON.stringify(new URL("mod.ts", ROOT).href)),
  );
  return path;
}
