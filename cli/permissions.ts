/**
 * What each command needs from Deno's permissions, checked before any work:
 * without them a command would run for a while and then die on the first
 * file, variable or library it touches (or, in a terminal, prompt only then).
 *
 * @module
 */

import type { Command } from "./args.ts";

type Need = { flag: string; why: string; descriptor: Deno.PermissionDescriptor };

function needs(command: Exclude<Command, { command: "help" }>): Need[] {
  const env: Need = {
    flag: "--allow-env",
    why: "to read DENO_WEBGPU_BACKEND and the KQUANT_* settings",
    descriptor: { name: "env", variable: "DENO_WEBGPU_BACKEND" },
  };
  const list: Need[] = command.command === "serve" ? [] : [env];
  if (command.command === "serve") {
    list.push(
      { flag: "--allow-net", why: "to serve the page", descriptor: { name: "net" } },
      { flag: "--allow-read", why: "to read the page and vectors", descriptor: { name: "read" } },
      { flag: "--allow-write", why: "to write the bundle", descriptor: { name: "write" } },
      { flag: "--allow-run", why: "to run deno bundle", descriptor: { name: "run" } },
    );
  }
  if (command.command !== "serve" && command.options.gguf !== undefined) {
    list.push({
      flag: "--allow-read",
      why: `to read ${command.options.gguf}`,
      descriptor: { name: "read", path: command.options.gguf },
    });
  }
  if (command.command === "conform") {
    list.push({
      flag: "--allow-read",
      why: "to read the committed vectors",
      descriptor: { name: "read", path: new URL("../conformance/vectors/", import.meta.url) },
    });
    if (!command.options.vectorsOnly) {
      list.push({
        flag: "--allow-ffi",
        why: command.options.gguf === undefined
          ? "to load llama.cpp (or pass --vectors-only)"
          : "to load llama.cpp, the reference --gguf checks against",
        descriptor: { name: "ffi" },
      });
    }
  }
  if (command.command === "bench") {
    for (const path of [command.options.out, command.options.chart]) {
      if (path !== undefined) {
        list.push({
          flag: "--allow-write",
          why: `to write ${path}`,
          descriptor: { name: "write", path },
        });
      }
    }
    if (command.options.vsLlamaCpp) {
      list.push(
        { flag: "--allow-ffi", why: "to load llama.cpp for --vs", descriptor: { name: "ffi" } },
        {
          flag: "--allow-read",
          why: "to find llama.cpp's libraries",
          descriptor: { name: "read" },
        },
      );
    }
  }
  return list;
}

/**
 * The first permission `command` lacks, as one line naming the flag, or null.
 * "prompt" counts as missing: a prompt after minutes of work is no better.
 */
export function missingPermission(command: Exclude<Command, { command: "help" }>): string | null {
  for (const need of needs(command)) {
    if (Deno.permissions.querySync(need.descriptor).state !== "granted") {
      return `${command.command} needs ${need.flag} ${need.why}: run it with ${need.flag} or -A`;
    }
  }
  return null;
}
