// Running a kernel description: pipelines compiled once per device and key,
// uniform buffers, bind groups and encoding, written once for every kernel.

/** A kernel as a small pure description (see ../shared style: tfjs/onnxruntime-web). */

import { envVar } from "./_env.ts";
import { bufferRange, fitsBinding } from "./_validate.ts";
import { deviceGone, hasOpenPass, isClosed, isDestroyed, ownerOf } from "./_tracking.ts";
import { forDevice } from "./subgroup_layout.ts";
export interface KernelSpec {
  /** Human-readable name, used as the label of every GPU object. */
  name: string;
  /** Cache key made only of compile-time facts (never shapes). */
  key: string;
  /** The WGSL source. */
  wgsl: string;
  /** Workgroups to dispatch. */
  workgroups: [number, number, number];
  /** Values of the shader's uniform struct, in order (u32 words). */
  uniforms: Uint32Array;
}

/** A storage binding: a whole buffer or a range of one. */
export type BufferRange = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** A compiled pipeline and its bind group layout (asking for the layout is a call into the runtime). */
export interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const pipelines = new WeakMap<GPUDevice, Map<string, Compiled>>();

/** The compiled pipeline and bind group layout of a spec, compiled on first use per device. */
export function compiledFor(device: GPUDevice, spec: KernelSpec): Compiled {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, cache = new Map());
  let compiled = cache.get(spec.key);
  if (!compiled) {
    if (envVar("KQUANT_PRINT_WGSL")) {
      // deno-lint-ignore no-console
      console.error(`// ${spec.name} [${spec.key}]\n${spec.wgsl}`);
    }
    const module = device.createShaderModule({
      label: spec.name,
      code: forDevice(device, spec.wgsl),
    });
    const pipeline = device.createComputePipeline({
      label: spec.name,
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
    compiled = { pipeline, layout: pipeline.getBindGroupLayout(0) };
    cache.set(spec.key, compiled);
  }
  return compiled;
}

/** The compiled pipeline of a spec, compiled on first use per device. */
export function pipelineFor(device: GPUDevice, spec: KernelSpec): GPUComputePipeline {
  return compiledFor(device, spec).pipeline;
}

/** Number of pipelines compiled for a device (for tests). */
export function pipelineCount(device: GPUDevice): number {
  return pipelines.get(device)?.size ?? 0;
}

/** The kernel keys of the pipelines compiled for a device (for tests). */
export function pipelineKeys(device: GPUDevice): string[] {
  return [...pipelines.get(device)?.keys() ?? []];
}

const sources = new Map<string, string>();

/**
 * The WGSL for `key`, built once per process: the generated kernels are
 * long, and building them on every encode cost more CPU time than the GPU
 * spent running them.
 */
export function cachedWgsl(key: string, build: () => string): string {
  let wgsl = sources.get(key);
  if (wgsl === undefined) sources.set(key, wgsl = build());
  return wgsl;
}

/** One GPU buffer argument of an encode: its name, value, and the bytes it must hold (and `formula` for them). */
export interface BufferArg {
  name: string;
  value: unknown;
  formula: string;
  bytes: number;
}

/** A validated storage binding: exactly the bytes a kernel uses. */
export interface Binding {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/**
 * Checks the buffer arguments of an encode or record and returns the exact
 * ranges to bind, so that nothing the device would reject reaches it: each is
 * a buffer or range (TypeError) of this device, not destroyed, with STORAGE
 * usage; its offset a multiple of `minStorageBufferOffsetAlignment` and its
 * size of 4; the range inside the buffer; the bytes it must hold fitting one
 * storage binding; and no two arguments on one buffer (a kernel writes y while
 * it reads x, which WebGPU forbids within one buffer even for disjoint
 * ranges). A binding covers exactly the bytes used, so a caller's buffer may be
 * larger than one binding.
 */
export function checkBuffers(action: string, device: GPUDevice, args: BufferArg[]): Binding[] {
  for (const a of args) bufferRange(action, a.name, a.value);
  const bindings = args.map((a) => {
    const r = a.value as BufferRange;
    const buffer = r instanceof GPUBuffer ? r : r.buffer;
    const offset = r instanceof GPUBuffer ? 0 : r.offset ?? 0;
    const size = r instanceof GPUBuffer ? undefined : r.size;
    checkBuffer(action, device, a.name, buffer, offset, size);
    return { buffer, offset, size: size ?? buffer.size - offset };
  });
  for (const a of args) fitsBinding(action, `${a.name} (${a.formula} bytes)`, a.bytes, device);
  args.forEach((a, i) => {
    if (bindings[i].size < a.bytes) {
      throw new RangeError(
        `Cannot ${action}: ${a.name} must hold ${a.formula} = ${a.bytes} bytes, current value is ${
          bindings[i].size
        }`,
      );
    }
  });
  for (let i = 0; i < args.length; i++) {
    for (let j = i + 1; j < args.length; j++) {
      if (bindings[i].buffer === bindings[j].buffer) {
        throw new RangeError(
          `Cannot ${action}: ${args[i].name} and ${
            args[j].name
          } must be different buffers (WebGPU forbids reading and writing one buffer in a dispatch), current value is the same buffer${
            labelled(bindings[i].buffer)
          }`,
        );
      }
    }
  }
  return bindings.map((b, i) => ({ buffer: b.buffer, offset: b.offset, size: args[i].bytes }));
}

function labelled(buffer: GPUBuffer): string {
  return buffer.label ? ` "${buffer.label}"` : "";
}

function checkBuffer(
  action: string,
  device: GPUDevice,
  name: string,
  buffer: GPUBuffer,
  offset: number,
  size: number | undefined,
): void {
  const owner = ownerOf(buffer);
  if (owner !== undefined && owner !== device) {
    throw new TypeError(
      `Cannot ${action}: ${name} must be a buffer of this object's device, current value is a buffer${
        labelled(buffer)
      } of another device`,
    );
  }
  if (isDestroyed(buffer)) {
    throw new TypeError(
      `Cannot ${action}: ${name} must not be destroyed, current value is a destroyed buffer${
        labelled(buffer)
      }`,
    );
  }
  if ((buffer.usage & GPUBufferUsage.STORAGE) === 0) {
    throw new TypeError(
      `Cannot ${action}: ${name} must have GPUBufferUsage.STORAGE, current value is a buffer${
        labelled(buffer)
      } of usage ${buffer.usage}`,
    );
  }
  const align = device.limits.minStorageBufferOffsetAlignment;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % align !== 0) {
    throw new RangeError(
      `Cannot ${action}: ${name} offset must be a non-negative multiple of minStorageBufferOffsetAlignment ${align}, current value is ${offset}`,
    );
  }
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0 || size % 4 !== 0)) {
    throw new RangeError(
      `Cannot ${action}: ${name} size must be a non-negative multiple of 4, current value is ${size}`,
    );
  }
  if (offset + (size ?? 0) > buffer.size) {
    throw new RangeError(
      `Cannot ${action}: ${name} offset + size must be at most the buffer's ${buffer.size} bytes, current value is ${
        offset + (size ?? 0)
      }`,
    );
  }
}

/**
 * Checks that `encoder` (a command encoder or a compute pass) belongs to
 * `device` and can still record: not finished or ended, and, for an encoder,
 * no pass of its own open.
 */
export function checkRecorder(
  action: string,
  device: GPUDevice,
  name: string,
  recorder: GPUCommandEncoder | GPUComputePassEncoder,
): void {
  const owner = ownerOf(recorder);
  if (owner !== undefined && owner !== device) {
    throw new TypeError(
      `Cannot ${action}: ${name} must belong to this object's device, current value is one of another device`,
    );
  }
  if (isClosed(recorder)) {
    throw new TypeError(
      `Cannot ${action}: ${name} must still be recording, current value is ${
        recorder instanceof GPUCommandEncoder ? "a finished encoder" : "an ended pass"
      }`,
    );
  }
  if (recorder instanceof GPUCommandEncoder && hasOpenPass(recorder)) {
    throw new TypeError(
      `Cannot ${action}: ${name} must have no pass open, current value is an encoder whose pass has not ended`,
    );
  }
}

/** Throws an Error naming the device's state if it was destroyed or lost. */
export function checkDevice(action: string, device: GPUDevice): void {
  const gone = deviceGone(device);
  if (gone) throw new DeviceError(`Cannot ${action}: the device was ${gone}`, "lost");
}

/** What kind of failure the device reported. */
export type DeviceErrorKind = "validation" | "out-of-memory" | "internal" | "lost";

/**
 * The device refused or lost the work of a `run()` or `lookup()`: the message
 * says what failed, `kind` which class of GPU error it was.
 *
 * @example GPU
 * ```ts ignore
 * import { DeviceError, makeQ5KBlob, Q5KLinear, requestDevice } from "@kquant/webgpu";
 * const device = await requestDevice();
 * const layer = Q5KLinear.create(device, makeQ5KBlob(64, 256), { n: 64, k: 256 });
 * device.destroy();
 * try {
 *   await layer.run(new Float32Array(256), 1);
 * } catch (e) {
 *   if (e instanceof DeviceError) console.log(e.kind, e.message); // "lost", "…the device was destroyed"
 * }
 * ```
 */
export class DeviceError extends Error {
  /** Always `"DeviceError"`. */
  override name = "DeviceError";
  /** The GPU error's class: a validation or out-of-memory error, or a lost device. */
  readonly kind: DeviceErrorKind;
  /**
   * Makes the error.
   *
   * @param message What failed.
   * @param kind The GPU error's class.
   */
  constructor(message: string, kind: DeviceErrorKind) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Submits `record`'s work and reads `size` bytes of `source` back, inside
 * validation and out-of-memory error scopes: any error the device reports for
 * this work rejects with a {@linkcode DeviceError} instead of resolving with
 * bytes nobody wrote. Everything from the push of the scopes to their pop is
 * synchronous, so concurrent calls never see each other's errors.
 */
export async function submitAndRead(
  device: GPUDevice,
  action: string,
  record: (encoder: GPUCommandEncoder) => void,
  source: GPUBuffer,
  size: number,
): Promise<ArrayBuffer> {
  checkDevice(action, device);
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let staging: GPUBuffer | null = null;
  let thrown: unknown = null;
  try {
    const encoder = device.createCommandEncoder({ label: action });
    record(encoder);
    staging = device.createBuffer({
      label: "kquant readback",
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.copyBufferToBuffer(source, 0, staging, 0, size);
    device.queue.submit([encoder.finish()]);
  } catch (error) {
    thrown = error;
  }
  const scopes = [device.popErrorScope(), device.popErrorScope()];
  const [validation, oom] = await Promise.all(scopes.map((p) => p.catch(() => null)));
  const reported = validation ?? oom;
  if (thrown || reported) {
    staging?.destroy();
    if (thrown) throw thrown;
    const kind = validation ? "validation" : "out-of-memory";
    throw new DeviceError(
      `Cannot ${action}: the device reported a${
        kind === "validation" ? " validation" : "n out-of-memory"
      } error: ${reported!.message}`,
      kind,
    );
  }
  try {
    await staging!.mapAsync(GPUMapMode.READ);
  } catch (error) {
    staging!.destroy();
    const gone = deviceGone(device);
    throw new DeviceError(
      `Cannot ${action}: ${
        gone
          ? `the device was ${gone}`
          : `reading the result back failed: ${(error as Error).message}`
      }`,
      gone ? "lost" : "internal",
    );
  }
  const out = staging!.getMappedRange().slice(0);
  staging!.unmap();
  staging!.destroy();
  return out;
}

function asBinding(range: BufferRange): GPUBufferBinding {
  return range instanceof GPUBuffer ? { buffer: range } : range;
}

const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 0;

function bufferId(buffer: GPUBuffer): number {
  let id = bufferIds.get(buffer);
  if (id === undefined) bufferIds.set(buffer, id = nextBufferId++);
  return id;
}

/** Batch sizes (or id counts) a kernel object keeps resolved dispatches for before it starts over. */
export const MAX_PLANS = 64;

/** Bind groups a dispatch cache keeps before it starts over. */
const MAX_BIND_GROUPS = 64;

/**
 * The uniform buffers (keyed by content) and bind groups (keyed by pipeline
 * and bound ranges) of one kernel object, so that an encode() can be
 * submitted later and encoding the same shape and buffers again creates no
 * GPU objects: on an H200 a mat-vec ran 30 µs while creating them cost more
 * CPU time than that, and the GPU idled between passes.
 */
export class DispatchCache {
  #buffers = new Map<string, GPUBuffer>();
  #groups = new Map<string, GPUBindGroup>();
  #last = new Map<string, { spec: KernelSpec; ranges: FlatRange[]; group: GPUBindGroup }>();
  constructor(readonly device: GPUDevice, readonly label: string) {}

  /** The uniform buffer holding `words`, created on first use. */
  uniform(words: Uint32Array): GPUBuffer {
    const key = words.join(",");
    let buffer = this.#buffers.get(key);
    if (!buffer) {
      buffer = this.device.createBuffer({
        label: `${this.label} uniforms`,
        size: Math.max(16, Math.ceil(words.byteLength / 16) * 16),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(buffer, 0, words as Uint32Array<ArrayBuffer>);
      this.#buffers.set(key, buffer);
    }
    return buffer;
  }

  /** The bind group of `spec`'s uniforms and `storage` for `compiled`, created on first use. */
  bindGroup(spec: KernelSpec, compiled: Compiled, storage: BufferRange[]): GPUBindGroup {
    // Fast path: the same spec object and the same ranges as last time
    // (compared by value: a caller may reuse a range object with a new offset).
    const last = this.#last.get(spec.key);
    if (last && last.spec === spec && sameRanges(last.ranges, storage)) return last.group;
    const group = this.#lookup(spec, compiled, storage);
    this.#last.set(spec.key, { spec, ranges: storage.map(flatRange), group });
    return group;
  }

  #lookup(spec: KernelSpec, compiled: Compiled, storage: BufferRange[]): GPUBindGroup {
    const uniform = this.uniform(spec.uniforms);
    const bindings = storage.map(asBinding);
    let key = `${spec.key}|${bufferId(uniform)}`;
    for (const b of bindings) key += `|${bufferId(b.buffer)}:${b.offset ?? 0}:${b.size ?? -1}`;
    let group = this.#groups.get(key);
    if (!group) {
      // Entries for buffers the caller has since dropped are never hit again.
      if (this.#groups.size >= MAX_BIND_GROUPS) this.#groups.clear();
      group = this.device.createBindGroup({
        label: spec.name,
        layout: compiled.layout,
        entries: [
          { binding: 0, resource: { buffer: uniform } },
          ...bindings.map((resource, i) => ({ binding: i + 1, resource })),
        ],
      });
      this.#groups.set(key, group);
    }
    return group;
  }

  destroy(): void {
    for (const b of this.#buffers.values()) b.destroy();
    this.#buffers.clear();
    this.#groups.clear();
    this.#last.clear();
  }
}

/** A binding's buffer, offset and size (undefined: to the end). */
type FlatRange = [GPUBuffer, number, number | undefined];

function flatRange(r: BufferRange): FlatRange {
  return r instanceof GPUBuffer ? [r, 0, undefined] : [r.buffer, r.offset ?? 0, r.size];
}

function sameRanges(a: readonly FlatRange[], b: readonly BufferRange[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const r = b[i];
    const [buffer, offset, size] = a[i];
    if (r instanceof GPUBuffer) {
      if (r !== buffer || offset !== 0 || size !== undefined) return false;
    } else if (r.buffer !== buffer || (r.offset ?? 0) !== offset || r.size !== size) return false;
  }
  return true;
}

/**
 * Records one dispatch of `spec` into `pass`: binding 0 is the uniform
 * struct, bindings 1.. are `storage` in order.
 */
export function dispatch(
  device: GPUDevice,
  pass: GPUComputePassEncoder,
  spec: KernelSpec,
  cache: DispatchCache,
  storage: BufferRange[],
): void {
  const compiled = compiledFor(device, spec);
  pass.setPipeline(compiled.pipeline);
  pass.setBindGroup(0, cache.bindGroup(spec, compiled, storage));
  pass.dispatchWorkgroups(...spec.workgroups);
}

/** Copies `size` bytes of a GPU buffer back to the CPU. */
export async function readBack(
  device: GPUDevice,
  source: GPUBuffer,
  size: number,
  offset = 0,
  encoder?: GPUCommandEncoder,
): Promise<ArrayBuffer> {
  const staging = device.createBuffer({
    label: "kquant readback",
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const enc = encoder ?? device.createCommandEncoder({ label: "kquant readback" });
  enc.copyBufferToBuffer(source, offset, staging, 0, size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = staging.getMappedRange().slice(0);
  staging.unmap();
  staging.destroy();
  return out;
}

/** Creates a storage buffer holding `data` (padded to 4 bytes). */
export function uploadStorage(
  device: GPUDevice,
  label: string,
  data: ArrayBufferView,
  extraUsage = 0,
): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const buffer = device.createBuffer({
    label,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extraUsage,
  });
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const whole = bytes.byteLength - (bytes.byteLength % 4);
  if (whole > 0) device.queue.writeBuffer(buffer, 0, bytes as Uint8Array<ArrayBuffer>, 0, whole);
  if (whole < bytes.byteLength) {
    const tail = new Uint8Array(4);
    tail.set(bytes.subarray(whole));
    device.queue.writeBuffer(buffer, whole, tail);
  }
  return buffer;
}

/**
 * A scratch buffer that grows on demand. An outgrown buffer is kept until
 * destroy(), not destroyed at once: work recorded into an encoder that has not
 * been submitted yet may still use it. Sizes at least double, so few are kept.
 */
export class GrowingBuffer {
  #current: GPUBuffer | null = null;
  #retired: GPUBuffer[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly label: string,
    readonly usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE,
  ) {}

  /** A buffer of at least `bytes` bytes (at most the device's largest storage binding past that). */
  get(bytes: number): GPUBuffer {
    if (this.#current && this.#current.size >= bytes) return this.#current;
    const limit = this.device.limits.maxStorageBufferBindingSize;
    // Callers check sizes first; a scratch buffer beyond one binding would be
    // kept and bound whole by every later call, which the device rejects.
    if (bytes > limit) {
      throw new RangeError(
        `Cannot grow ${this.label}: it must fit one storage binding of maxStorageBufferBindingSize ${limit} bytes, current value is ${bytes}`,
      );
    }
    const doubled = 2 * (this.#current?.size ?? 0);
    const size = Math.ceil(Math.max(16, bytes, Math.min(doubled, limit)) / 16) * 16;
    if (this.#current) this.#retired.push(this.#current);
    this.#current = this.device.createBuffer({ label: this.label, size, usage: this.usage });
    return this.#current;
  }

  /** Frees the current buffer and every outgrown one. */
  destroy(): void {
    for (const b of this.#retired) b.destroy();
    this.#retired = [];
    this.#current?.destroy();
    this.#current = null;
  }
}
