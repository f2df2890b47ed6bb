// Splitting a weight or table blob into storage bindings no larger than the
// device allows, on row boundaries and at aligned offsets.

import { blockMultiple, bytes, positiveInt } from "./_validate.ts";
import { Q5K_BLOCK_BYTES, Q5K_BLOCK_WEIGHTS } from "./q5k_format.ts";
import { uploadStorage } from "./_gpu.ts";

/** One binding's worth of rows. */
export interface RowChunk {
  row0: number;
  rows: number;
  offset: number;
  size: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Plans bindings of at most `maxBinding` bytes each, whole rows, each offset
 * a multiple of `alignment`.
 *
 * @throws {RangeError} If not even the smallest aligned group of rows fits.
 */
export function planRowChunks(
  action: string,
  rows: number,
  rowBytes: number,
  maxBinding: number,
  alignment: number,
): RowChunk[] {
  const step = alignment / gcd(rowBytes, alignment);
  let perChunk = Math.floor(maxBinding / rowBytes);
  if (perChunk < rows) perChunk -= perChunk % step;
  if (perChunk < 1) {
    throw new RangeError(
      `Cannot ${action}: a group of ${step} rows of ${rowBytes} bytes must fit one storage binding of maxStorageBufferBindingSize ${maxBinding} bytes, current value is ${
        step * rowBytes
      }`,
    );
  }
  const chunks: RowChunk[] = [];
  for (let row0 = 0; row0 < rows; row0 += perChunk) {
    const n = Math.min(perChunk, rows - row0);
    chunks.push({ row0, rows: n, offset: row0 * rowBytes, size: n * rowBytes });
  }
  return chunks;
}

/** A Q5_K blob on the GPU with its binding plan. */
export interface GpuBlob {
  buffer: GPUBuffer;
  chunks: RowChunk[];
  rowBytes: number;
}

/**
 * Checks a blob against its shape and uploads it once.
 *
 * @throws {TypeError} If `blob` is not a Uint8Array.
 * @throws {RangeError} If sizes are bad, the length does not match, or the device cannot hold it.
 */
export function uploadBlob(
  device: GPUDevice,
  action: string,
  what: string,
  blob: Uint8Array,
  rows: number,
  k: number,
  rowsName: string,
  maxBinding = device.limits.maxStorageBufferBindingSize,
): GpuBlob {
  positiveInt(action, rowsName, rows);
  blockMultiple(action, "k", k);
  bytes(action, what, blob);
  const rowBytes = (k / Q5K_BLOCK_WEIGHTS) * Q5K_BLOCK_BYTES;
  if (blob.length !== rows * rowBytes) {
    throw new RangeError(
      `Cannot ${action}: ${what} length must be ${rowsName}·k/256·176 = ${
        rows * rowBytes
      } bytes, current value is ${blob.length}`,
    );
  }
  if (blob.length > device.limits.maxBufferSize) {
    throw new RangeError(
      `Cannot ${action}: ${what} must fit the device's maxBufferSize of ${device.limits.maxBufferSize} bytes, current value is ${blob.length}`,
    );
  }
  const chunks = planRowChunks(
    action,
    rows,
    rowBytes,
    maxBinding,
    device.limits.minStorageBufferOffsetAlignment,
  );
  const buffer = uploadStorage(device, `${action}: ${what}`, blob);
  return { buffer, chunks, rowBytes };
}
