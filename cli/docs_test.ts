// The documents keep their promises: links resolve, every quoted command
// exists in the CLI's help, the README stays short and links only to what
// the published package holds.
import assert from "node:assert/strict";
import { helpFor } from "./args.ts";

const ROOT = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));

async function markdownFiles(): Promise<string[]> {
  const files = ["README.md", "CHANGELOG.md", "bench/experiments/README.md"];
  for await (const e of Deno.readDir(new URL("docs/", ROOT))) {
    if (e.name.endsWith(".md")) files.push(`docs/${e.name}`);
  }
  return files;
}

const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

/** Relative link targets of a markdown text (images too), without their #anchors. */
function links(text: string): string[] {
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((url) => !/^[a-z]+:/i.test(url) && !url.startsWith("#"))
    .map((url) => url.split("#")[0]);
}

Deno.test("docs: every relative link in the README, CHANGELOG and docs resolves", async () => {
  for (const file of await markdownFiles()) {
    for (const target of links(await read(file))) {
      const url = new URL(target, new URL(file, ROOT));
      await Deno.stat(url).catch(() => assert.fail(`${file}: broken link ${target}`));
    }
  }
});

Deno.test("docs: README is under 15,000 bytes and links only to files the package publishes", async () => {
  const readme = await read("README.md");
  assert.ok(new TextEncoder().encode(readme).length < 15000, "README.md too long");
  const included: string[] = config.publish.include;
  for (const target of links(readme)) {
    assert.ok(
      included.some((p) => target === p || target.startsWith(p.endsWith("/") ? p : `${p}/`)),
      `README links to ${target}, which publish.include leaves out (broken on JSR)`,
    );
  }
});

Deno.test("docs: every quoted deno run / deno task command exists in the CLI's help or deno.json", async () => {
  let checked = 0;
  for (const file of await markdownFiles()) {
    const text = await read(file);
    for (const [, task] of text.matchAll(/deno task ([\w:-]+)/g)) {
      assert.ok(task in config.tasks, `${file}: deno task ${task} is not in deno.json`);
      checked++;
    }
    for (const [, rest] of text.matchAll(/deno run -A cli\/main\.ts ([^`\n]*)/g)) {
      const [command, ...words] = rest.trim().split(/\s+/);
      if (command === "<command>") continue;
      assert.ok(
        ["bench", "conform", "info", "serve", "help"].includes(command),
        `${file}: ${rest}`,
      );
      const help = helpFor(command);
      for (const flag of words.filter((w) => /^--[a-z]/.test(w))) {
        assert.ok(help.includes(flag.split("=")[0]), `${file}: ${command} has no flag ${flag}`);
      }
      checked++;
    }
    for (
      const [, script, comment] of text.matchAll(
        /deno run -A ((?:examples|bench)\/[\w/]+\.ts)([^\n]*)/g,
      )
    ) {
      // A script a commit once had, quoted with that commit (`# adc4c80`), is history.
      if (/#\s*[0-9a-f]{7}/.test(comment)) continue;
      await Deno.stat(new URL(script, ROOT)).catch(() => assert.fail(`${file}: no ${script}`));
      checked++;
    }
  }
  assert.ok(checked > 10, `only ${checked} commands found`);
});
