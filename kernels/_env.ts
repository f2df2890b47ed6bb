// Reading the KQUANT_* tuning and debugging variables without asking for a
// permission the importing program may not have: a library must not prompt
// for --allow-env, so an unreadable variable counts as unset.

const cache = new Map<string, string | undefined>();

/** The value of an environment variable, or undefined when unset or not readable. */
export function envVar(name: string): string | undefined {
  if (cache.has(name)) return cache.get(name);
  let value: string | undefined;
  // In a browser there is no environment.
  if (typeof Deno === "undefined") return undefined;
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
    value = state === "granted" ? Deno.env.get(name) : undefined;
  } catch {
    value = undefined;
  }
  cache.set(name, value);
  return value;
}
