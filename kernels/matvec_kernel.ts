/**
 * The Q5_K mat-vec kernel for small M (decode and small batches).
 *
 * Shape (after llama.cpp's Metal kernel_mul_mv_q5_K and Vulkan
 * mul_mat_vec_q5_k): 8 threads per super-block, each owning one 16-byte qs
 * vector (16 low + 16 high nibbles: 32 weights of two sub-blocks) and the
 * matching 16 qh bytes; all three loads are vec4<u32>. The min term is
 * factored out (d·Σ sc·Σq·x − dmin·Σ mn·Σx), `rows` output rows share each
 * activation load, and up to 8 activation columns reuse each decoded chunk.
 * Partial sums reduce with subgroupAdd when the device granted subgroups
 * (assuming subgroups are consecutive invocation indices, as on Vulkan, Metal
 * and D3D12 drivers for 1-D workgroups), else by a tree in workgroup memory.
 *
 * @module
 */

import type { KernelSpec } from "./_gpu.ts";
import { Q5K_WGSL } from "./_wgsl_q5k.ts";
import { ceilDiv, foldWorkgroups } from "./dispatch.ts";

/** Compile-time choices of the mat-vec kernel. */
export interface MatvecConfig {
  /** Threads per workgroup, a multiple of 8. */
  workgroupSize: number;
  /** Output rows per workgroup. */
  rows: number;
  /** Activation columns per pass, 1..8. */
  cols: number;
  /** Reduce with subgroupAdd (else workgroup memory). */
  subgroups: boolean;
  /** Add a bias vector. */
  bias: boolean;
}

/** Runtime shape of one mat-vec dispatch (one weight chunk). */
export interface MatvecShape {
  m: number;
  n: number;
  k: number;
  /** First weight row of the bound chunk, and rows in it. */
  row0: number;
  rows: number;
  maxWorkgroupsPerDimension: number;
}

/** The mat-vec kernel for a config and shape. */
export function matvecKernel(cfg: MatvecConfig, shape: MatvecShape): KernelSpec {
  const { workgroupSize: wg, rows: r, cols: c } = cfg;
  const groups = ceilDiv(shape.rows, r);
  const [gx, gy] = foldWorkgroups(groups, shape.maxWorkgroupsPerDimension);
  const colGroups = ceilDiv(shape.m, c);
  if (colGroups > shape.maxWorkgroupsPerDimension) {
    throw new RangeError(
      `Cannot run Q5_K mat-vec: m must be at most ${
        c * shape.maxWorkgroupsPerDimension
      }, current value is ${shape.m}`,
    );
  }
  const key = `q5k-matvec:wg${wg}:r${r}:c${c}:${cfg.subgroups ? "sg" : "wgmem"}:${
    cfg.bias ? "bias" : "nobias"
  }`;
  return {
    name: `q5_K matvec (wg=${wg}, rows=${r}, cols=${c}, ${
      cfg.subgroups ? "subgroup" : "workgroup"
    } reduce)`,
    key,
    wgsl: matvecWgsl(cfg),
    workgroups: [gx, gy, colGroups],
    uniforms: new Uint32Array([
      shape.m,
      shape.n,
      shape.k,
      shape.k / 256,
      shape.row0,
      shape.rows,
      gx,
      shape.k / 4,
    ]),
  };
}

function matvecWgsl(cfg: MatvecConfig): string {
  const { workgroupSize: wg, rows: R, cols: C } = cfg;
  const rc = R * C;
  const builtins = cfg.subgroups
    ? ", @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32"
    : "";
  const redSize = cfg.subgroups ? (wg / 4) * rc : wg * rc;
  const reduce = cfg.subgroups
    ? /* wgsl */ `
  let sg_id = lid / sg_size;
  let n_sg = (WG + sg_size - 1u) / sg_size;
  for (var v = 0u; v < RC; v++) {
    let s = subgroupAdd(acc[v]);
    if (sg_lane == 0u) { red[sg_id * RC + v] = s; }
  }
  workgroupBarrier();
  var total = 0.0;
  if (lid < RC) {
    for (var i = 0u; i < n_sg; i++) { total += red[i * RC + lid]; }
  }`
    : /* wgsl */ `
  for (var v = 0u; v < RC; v++) { red[v * WG + lid] = acc[v]; }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var v = 0u; v < RC; v++) { red[v * WG + lid] += red[v * WG + lid + s]; }
    }
    workgroupBarrier();
  }
  var total = 0.0;
  if (lid < RC) { total = red[lid * WG]; }`;
  return /* wgsl */ `${Q5K_WGSL}
const WG = ${wg}u;
const TPB = 8u;           // threads per super-block
const SLOTS = WG / TPB;   // super-blocks in flight per workgroup
const R = ${R}u;          // output rows per workgroup
const C = ${C}u;          // activation columns per pass
const RC = ${rc}u;

struct Params {
  m: u32, n: u32, k: u32, nb: u32,
  row0: u32, rows: u32, groups_x: u32, k4: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${cfg.bias ? "@group(0) @binding(4) var<storage, read> bias: array<f32>;" : ""}

var<workgroup> red: array<f32, ${redSize}>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${builtins}) {
  let first = (wid.x + wid.y * p.groups_x) * R;
  if (first >= p.rows) { return; }
  let col0 = wid.z * C;
  let t = lid % TPB;
  let slot = lid / TPB;
  let g = t / 2u;          // 64-weight chunk of the block
  let hf = t % 2u;         // which 16 bytes of the chunk's 32 qs bytes
  let j = 2u * g;          // low-nibble sub-block; j + 1 is the high one
  var acc: array<f32, RC>;
  for (var b = slot; b < p.nb; b += SLOTS) {
    var ql: array<vec4<u32>, R>;
    var qu: array<vec4<u32>, R>;
    var dl: array<f32, R>;
    var du: array<f32, R>;
    var ml: array<f32, R>;
    var mu: array<f32, R>;
    for (var r = 0u; r < R; r++) {
      let row = min(first + r, p.rows - 1u);
      let base = (row * p.nb + b) * BLOCK_VEC4;
      let hdr = w[base];
      let qh = w[base + 1u + hf];
      let qs = w[base + 3u + t];
      let d = f16_bits_to_f32(hdr.x & 0xffffu);
      let dmin = f16_bits_to_f32(hdr.x >> 16u);
      let sl = scale_min(j, hdr.y, hdr.z, hdr.w);
      let su = scale_min(j + 1u, hdr.y, hdr.z, hdr.w);
      dl[r] = d * f32(sl.x);
      du[r] = d * f32(su.x);
      ml[r] = dmin * f32(sl.y);
      mu[r] = dmin * f32(su.y);
      ql[r] = vec4<u32>(quants4(qs.x, qh.x, j), quants4(qs.y, qh.y, j),
                        quants4(qs.z, qh.z, j), quants4(qs.w, qh.w, j));
      qu[r] = vec4<u32>(quants4(qs.x, qh.x, j + 1u), quants4(qs.y, qh.y, j + 1u),
                        quants4(qs.z, qh.z, j + 1u), quants4(qs.w, qh.w, j + 1u));
    }
    for (var c = 0u; c < C; c++) {
      let col = min(col0 + c, p.m - 1u);
      let xb = col * p.k4 + b * 64u + g * 16u + hf * 4u;
      // Naga hoists function-scope variables and initializes them once, so
      // loop-local accumulators are zeroed explicitly on every iteration.
      var sl: array<f32, R>;
      var su: array<f32, R>;
      for (var r = 0u; r < R; r++) { sl[r] = 0.0; su[r] = 0.0; }
      var yl: f32;
      var yu: f32;
      yl = 0.0;
      yu = 0.0;
      for (var i = 0u; i < 4u; i++) {
        let xl = x[xb + i];
        let xu = x[xb + 8u + i];
        yl += (xl.x + xl.y) + (xl.z + xl.w);
        yu += (xu.x + xu.y) + (xu.z + xu.w);
        for (var r = 0u; r < R; r++) {
          sl[r] += dot(unpack_q(ql[r][i]), xl);
          su[r] += dot(unpack_q(qu[r][i]), xu);
        }
      }
      for (var r = 0u; r < R; r++) {
        acc[r * C + c] += (dl[r] * sl[r] + du[r] * su[r]) - (ml[r] * yl + mu[r] * yu);
      }
    }
  }
${reduce}
  if (lid < RC) {
    let row = first + lid / C;
    let col = col0 + lid % C;
    if (row < p.rows && col < p.m) {
      let n_idx = p.row0 + row;
      y[col * p.n + n_idx] = total${cfg.bias ? " + bias[n_idx]" : ""};
    }
  }
}
`;
}
