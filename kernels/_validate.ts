// Argument checks shared by every public entry point. Messages follow the
// house rule: what was being done, what was wrong, the current value.

/** Renders a value for an error message without dumping whole arrays. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}(${(value as Uint8Array).length})`;
  }
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value);
}

/** Throws unless `value` is an integer ≥ 1 (TypeError for non-numbers). */
export function positiveInt(action: string, name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action}: ${name} must be a number, current value is ${show(value)}`,
    );
  }
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot ${action}: ${name} must be a positive integer, current value is ${value}`,
    );
  }
  return value;
}

/** Throws unless `k` is a positive multiple of 256. */
export function blockMultiple(action: string, name: string, k: unknown): number {
  positiveInt(action, name, k);
  if ((k as number) % 256 !== 0) {
    throw new RangeError(
      `Cannot ${action}: ${name} must be a multiple of 256, current value is ${k}`,
    );
  }
  return k as number;
}

/** Throws unless `value` is a Uint8Array. */
export function bytes(action: string, name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot ${action}: ${name} must be a Uint8Array, current value is ${show(value)}`,
    );
  }
  return value;
}

/** Throws unless `value` is a Float32Array. */
export function floats(action: string, name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(
      `Cannot ${action}: ${name} must be a Float32Array, current value is ${show(value)}`,
    );
  }
  return value;
}

/** Throws unless every element is finite; names the first bad index. */
export function allFinite(action: string, name: string, x: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new RangeError(
        `Cannot ${action}: ${name} must be finite, current value at index ${i} is ${x[i]}`,
      );
    }
  }
}

/** Throws unless `device` is a GPUDevice and `options` an object (the kernels' create() preamble). */
export function deviceAndOptions(action: string, device: unknown, options: unknown): void {
  if (!(device instanceof GPUDevice)) {
    throw new TypeError(
      `Cannot ${action}: device must be a GPUDevice, current value is ${show(device)}`,
    );
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Cannot ${action}: options must be an object, current value is ${show(options)}`,
    );
  }
}

/** The largest storage binding to plan for: the device's, or a smaller test cap. */
export function bindingLimit(device: GPUDevice, cap?: number): number {
  return Math.min(device.limits.maxStorageBufferBindingSize, cap ?? Infinity);
}

/** Throws unless `bytes` fit one storage binding of the device (named `what`). */
export function fitsBinding(action: string, what: string, bytes: number, device: GPUDevice): void {
  const limit = device.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new RangeError(
      `Cannot ${action}: ${what} must fit one storage binding of maxStorageBufferBindingSize ${limit} bytes, current value is ${bytes}`,
    );
  }
}

/** Throws a TypeError unless `value` is an instance of `kind` (a WebGPU class, named `what`). */
export function instance<T>(
  action: string,
  name: string,
  value: unknown,
  kind: abstract new (...args: never[]) => T,
  what: string,
): T {
  if (!(value instanceof kind)) {
    throw new TypeError(
      `Cannot ${action}: ${name} must be a ${what}, current value is ${show(value)}`,
    );
  }
  return value;
}

/** Throws a TypeError unless `value` is a GPUBuffer or a `{ buffer, offset?, size? }` range of one. */
export function bufferRange(
  action: string,
  name: string,
  value: unknown,
): GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number } {
  if (value instanceof GPUBuffer) return value;
  const range = value as { buffer?: unknown; offset?: unknown; size?: unknown } | null;
  if (
    range !== null && typeof range === "object" && range.buffer instanceof GPUBuffer &&
    (range.offset === undefined || typeof range.offset === "number") &&
    (range.size === undefined || typeof range.size === "number")
  ) {
    return range as { buffer: GPUBuffer; offset?: number; size?: number };
  }
  throw new TypeError(
    `Cannot ${action}: ${name} must be a GPUBuffer or { buffer, offset?, size? }, current value is ${
      show(value)
    }`,
  );
}

/**
 * Throws a TypeError naming the first key of `options` that is neither public
 * nor internal (a typo such as `activation` would otherwise run the default).
 */
export function knownKeys(
  action: string,
  options: object,
  keys: readonly string[],
  internal: readonly string[] = [],
): void {
  for (const key of Object.keys(options)) {
    if (!keys.includes(key) && !internal.includes(key)) {
      throw new TypeError(
        `Cannot ${action}: options has no key "${key}" (accepted: ${
          keys.join(", ")
        }), current value is ${show((options as Record<string, unknown>)[key])}`,
      );
    }
  }
}
