// What WebGPU does not let a library ask synchronously: which device made a
// buffer or command encoder, whether a buffer was destroyed, whether an encoder
// is finished or has a pass open, whether a pass has ended, whether a device is
// lost. Without these, a buffer from another device or a destroyed one passes
// every check, the device rejects the work later, and the output is silently
// never written. So the module wraps the methods that create or end those
// objects, once, to note the facts (it changes no argument and no result), and
// watches `device.lost` for every device it meets. Objects made before this
// module loaded are unknown and pass unchecked.

const owners = new WeakMap<object, GPUDevice>();
const destroyed = new WeakSet<object>();
/** Encoders with a pass open, and finished encoders / ended passes. */
const openPass = new WeakMap<object, object>();
const closed = new WeakSet<object>();
const passEncoder = new WeakMap<object, object>();
const lost = new WeakMap<GPUDevice, string>();
const watched = new WeakSet<GPUDevice>();
/**
 * The adapter of each device, kept while the device is alive: Deno 2.9 frees an
 * adapter that nothing references, after which creating a pipeline on its
 * device aborts the process (`Adapter[Id(0,1)] does not exist`).
 */
const adapters = new WeakMap<GPUDevice, GPUAdapter>();

type Method = (...args: never[]) => unknown;

function wrap<T extends object>(
  proto: T | undefined,
  name: string,
  after: (self: object, result: unknown) => void,
): void {
  if (!proto) return;
  const original = (proto as Record<string, Method>)[name];
  if (typeof original !== "function") return;
  Object.defineProperty(proto, name, {
    configurable: true,
    writable: true,
    value: function (this: object, ...args: never[]) {
      const result = original.apply(this, args);
      after(this, result);
      return result;
    },
  });
}

function install(): void {
  if (typeof GPUDevice === "undefined") return;
  const g = globalThis as unknown as Record<string, { prototype: object } | undefined>;
  wrap(GPUDevice.prototype, "createBuffer", (d, b) => owners.set(b as object, d as GPUDevice));
  wrap(GPUDevice.prototype, "createCommandEncoder", (d, e) => {
    owners.set(e as object, d as GPUDevice);
  });
  wrap(GPUDevice.prototype, "destroy", (d) => lost.set(d as GPUDevice, "destroyed"));
  wrap(g.GPUAdapter?.prototype, "requestDevice", (a, p) => {
    (p as Promise<GPUDevice>).then((d) => keepAdapter(d, a as GPUAdapter), () => {});
  });
  wrap(g.GPUBuffer?.prototype, "destroy", (b) => destroyed.add(b));
  wrap(g.GPUCommandEncoder?.prototype, "beginComputePass", (e, p) => {
    const device = owners.get(e);
    if (device) owners.set(p as object, device);
    openPass.set(e, p as object);
    passEncoder.set(p as object, e);
  });
  wrap(g.GPUCommandEncoder?.prototype, "finish", (e) => closed.add(e));
  wrap(g.GPUComputePassEncoder?.prototype, "end", (p) => {
    closed.add(p);
    const encoder = passEncoder.get(p);
    if (encoder && openPass.get(encoder) === p) openPass.delete(encoder);
  });
}

install();

/** Keeps `adapter` reachable for as long as `device` is, and starts watching the device. */
export function keepAdapter(device: GPUDevice, adapter: GPUAdapter): void {
  adapters.set(device, adapter);
  watchDevice(device);
}

/** Notes when `device` is lost, so later calls can say so instead of failing obscurely. */
export function watchDevice(device: GPUDevice): void {
  if (watched.has(device)) return;
  watched.add(device);
  device.lost.then((info) => {
    if (!lost.has(device)) {
      lost.set(
        device,
        info.reason === "destroyed" ? "destroyed" : `lost (${info.message || "no reason given"})`,
      );
    }
  });
}

/** `"destroyed"` or `"lost (…)"` once the device is gone; undefined while it works. */
export function deviceGone(device: GPUDevice): string | undefined {
  return lost.get(device);
}

/** The device that created a buffer, encoder or pass, where it was made after this module loaded. */
export function ownerOf(object: object): GPUDevice | undefined {
  return owners.get(object);
}

/** Whether `buffer.destroy()` was called. */
export function isDestroyed(buffer: GPUBuffer): boolean {
  return destroyed.has(buffer);
}

/** Whether an encoder was finished or a pass ended. */
export function isClosed(encoderOrPass: object): boolean {
  return closed.has(encoderOrPass);
}

/** Whether an encoder has a compute pass open (it accepts no other commands until that ends). */
export function hasOpenPass(encoder: GPUCommandEncoder): boolean {
  return openPass.has(encoder);
}
