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
