// Byte helpers shared by the modules: UTF-8, lowercase hex and canonical base64.
// Strict on input: a value has exactly one accepted text form (SPEC.md 5.1), so a
// decoder that took two would let two byte strings stand for one signed value.
import { FormatError } from './errors.mjs';

const encoder = new TextEncoder();
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of a well-formed string. */
export function utf8(text) {
  return encoder.encode(text);
}

/**
 * The text of UTF-8 bytes, or FormatError naming the step: invalid sequences and
 * encoded surrogates (ED A0 80) are refused, and a BOM is kept so callers see it.
 */
export function decodeUtf8(bytes, step, what = '', Kind = FormatError) {
  try {
    return fatalDecoder.decode(bytes);
  } catch {
    const where = what ? `${what}: ` : '';
    throw new Kind(step, `${where}不是有效的 UTF-8`, `${where}not valid UTF-8`);
  }
}

/** Bytes or a string as bytes (strings are taken as their UTF-8). */
export function asBytes(data) {
  return typeof data === 'string' ? utf8(data) : data;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex of bytes. */
export function toHex(bytes) {
  let out = '';
  for (const b of bytes) out += HEX[b];
  return out;
}

/**
 * Bytes of lowercase hex of an exact length (in bytes; null for any even length), or
 * FormatError naming the step and field.
 */
export function fromHex(text, size, step, what) {
  if (typeof text !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(text) ||
      (size !== null && text.length !== 2 * size)) {
    const n = size === null ? '' : `${size} 字节的`;
    const m = size === null ? '' : ` of ${size} bytes`;
    throw new FormatError(step, `${what}：不是${n}小写十六进制`, `${what}: not lowercase hex${m}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Map([...B64].map((c, i) => [c, i]));

/** Standard padded base64 of bytes. */
export function toBase64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return out;
}

/**
 * Bytes of canonical standard base64 (padded, unused bits zero), or FormatError: the
 * text must be exactly what toBase64 writes for the bytes.
 */
export function fromBase64(text, step, what) {
  const bad = () => new FormatError(step, `${what}：不是规范的 base64`,
    `${what}: not canonical base64`);
  if (typeof text !== 'string' || text.length % 4 !== 0) throw bad();
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text[i + j];
      const last = i + 4 === text.length;
      if (c === '=' && last && j >= 4 - pad) {
        n <<= 6;
        continue;
      }
      const v = B64_VALUE.get(c);
      if (v === undefined) throw bad();
      n = (n << 6) | v;
    }
    out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  if (toBase64(out) !== text) throw bad();
  return out;
}

/** Byte strings equal. */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** -1, 0 or 1: unsigned big-endian (plain byte) order. */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** The concatenation of byte strings. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** n (a BigInt or a safe integer, 0..2^64-1) as 8 bytes big-endian. */
export function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}
