// The repository's test vectors (tests/vectors/), read at test time so the JavaScript
// verifier is held to exactly the files the Python one is.
import { readFileSync } from 'node:fs';
import { fromHex } from './src/bytes.mjs';

const dir = new URL('../tests/vectors/', import.meta.url);

/** The parsed JSON of a vector file. */
export function vector(name) {
  return JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
}

/** UTF-8 bytes of a string. */
export function bytes(text) {
  return new TextEncoder().encode(text);
}

/** Bytes of hex of any even length. */
export function hex(text) {
  return fromHex(text, null, 'test', 'hex');
}

/** A copy of bytes with one byte XORed. */
export function flip(data, at, mask = 1) {
  const out = Uint8Array.from(data);
  out[at] ^= mask;
  return out;
}
