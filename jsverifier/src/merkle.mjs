// RFC 9162 Merkle trees (SPEC.md 7.1): leaf and node hashes, roots, and the verification
// of inclusion (2.1.3.2) and consistency (2.1.4.2) proofs. Indices and sizes are BigInt,
// since a tlog-proof's index and a checkpoint's size go up to 2^64-1, beyond a JS number;
// the proof length is checked against the tree shape before any hashing.
import { sha256 } from '../vendor/noble.mjs';
import { FormatError, ProofError } from './errors.mjs';
import { equalBytes } from './bytes.mjs';

export const EMPTY_ROOT = sha256(new Uint8Array(0));

/** SHA-256(0x00 || data): the leaf hash (and a log entry's entry hash). */
export function leafHash(data) {
  const buf = new Uint8Array(data.length + 1);
  buf.set(data, 1);
  return sha256(buf);
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return sha256(buf);
}

/** The root over leaf hashes: pairs hashed level by level, an odd last node carried up. */
export function rootOfLeafHashes(hashes) {
  if (hashes.length === 0) return EMPTY_ROOT;
  let level = hashes;
  while (level.length > 1) {
    const up = [];
    for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(level[i], level[i + 1]));
    if (level.length & 1) up.push(level[level.length - 1]);
    level = up;
  }
  return level[0];
}

function bitLength(n) {
  return n === 0n ? 0 : n.toString(2).length;
}

function popCount(n) {
  let c = 0;
  for (const d of n.toString(2)) if (d === '1') c++;
  return c;
}

function big(n, step, what) {
  if (typeof n === 'bigint' && n >= 0n) return n;
  if (Number.isSafeInteger(n) && n >= 0) return BigInt(n);
  throw new FormatError(step, `${what} 不是非负整数`, `${what} is not a non-negative integer`);
}

function checkHashes(hashes, step, what) {
  hashes.forEach((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== 32) {
      throw new ProofError(step, `${what}：第 ${i} 个哈希不是 32 字节`, `${what}: hash ${i} is not 32 bytes`);
    }
  });
}

/**
 * The root an inclusion proof leads to from a leaf hash at `index` in a tree of `size`
 * (RFC 9162 2.1.3.2); ProofError when the index is not below the size or the proof has
 * the wrong length for the tree's shape.
 */
export function rootFromInclusion(index, size, leaf, proof, step = 'inclusion') {
  const i0 = big(index, step, 'index');
  const n = big(size, step, 'size');
  const what = `inclusion proof for index ${i0} in size ${n}`;
  const zh = `索引 ${i0}、树大小 ${n} 的包含证明`;
  if (i0 >= n) throw new ProofError(step, `${zh}：索引不小于树大小`, `${what}: index not below size`);
  checkHashes([leaf], step, `${what}, leaf`);
  checkHashes(proof, step, what);
  const inner = bitLength(i0 ^ (n - 1n));
  const expected = inner + popCount(i0 >> BigInt(inner));
  if (proof.length !== expected) {
    throw new ProofError(step, `${zh}：有 ${proof.length} 个哈希，树形需要 ${expected} 个`,
      `${what}: ${proof.length} hashes, the tree shape needs ${expected}`);
  }
  let r = leaf;
  let i = i0;
  for (let k = 0; k < proof.length; k++) {
    // below `inner` the sibling sits by the index's bit; above it, always on the left
    r = k < inner && (i & 1n) === 0n ? nodeHash(r, proof[k]) : nodeHash(proof[k], r);
    if (k < inner) i >>= 1n;
  }
  return r;
}

/** ProofError unless the proof shows `leaf` at `index` under `root`. */
export function verifyInclusion(index, size, leaf, proof, root, step = 'inclusion') {
  if (!equalBytes(rootFromInclusion(index, size, leaf, proof, step), root)) {
    throw new ProofError(step, `索引 ${index}、树大小 ${size} 的包含证明得不到预期的根哈希`,
      `inclusion proof for index ${index} in size ${size} does not lead to the expected root`);
  }
}

/**
 * ProofError unless the proof shows the tree of `oldSize` with `oldRoot` is a prefix of
 * the tree of `newSize` with `newRoot` (RFC 9162 2.1.4.2). Equal sizes need an empty
 * proof and equal roots; old size 0 an empty proof and the empty root.
 */
export function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof, step = 'consistency') {
  const m = big(oldSize, step, 'old size');
  const n = big(newSize, step, 'new size');
  const what = `consistency proof from size ${m} to ${n}`;
  const zh = `从树大小 ${m} 到 ${n} 的一致性证明`;
  if (m > n) throw new ProofError(step, `${zh}：旧树大于新树`, `${what}: old size not within new size`);
  checkHashes(proof, step, what);
  if (m === 0n || m === n) {
    if (proof.length) throw new ProofError(step, `${zh}：有 ${proof.length} 个哈希，应为空`, `${what}: ${proof.length} hashes, must be empty`);
    if (!equalBytes(oldRoot, m === 0n ? EMPTY_ROOT : newRoot)) {
      const which = m === 0n ? ['空树的根', 'the empty root'] : ['新根', 'the new root'];
      throw new ProofError(step, `${zh}：旧根不是${which[0]}`, `${what}: the old root is not ${which[1]}`);
    }
    return;
  }
  const shift = BigInt(bitLength(m & -m) - 1);
  let i = (m - 1n) >> shift;
  const inner = bitLength(i ^ ((n - 1n) >> shift));
  const seeded = i !== 0n ? 1 : 0; // old size is not a power of two
  const expected = seeded + inner + popCount(i >> BigInt(inner));
  if (proof.length !== expected) {
    throw new ProofError(step, `${zh}：有 ${proof.length} 个哈希，树形需要 ${expected} 个`,
      `${what}: ${proof.length} hashes, the tree shape needs ${expected}`);
  }
  let fr = seeded ? proof[0] : oldRoot;
  let sr = fr;
  for (let k = seeded; k < proof.length; k++) {
    const p = proof[k];
    if (k < seeded + inner) {
      if (i & 1n) {
        fr = nodeHash(p, fr);
        sr = nodeHash(p, sr);
      } else {
        sr = nodeHash(sr, p);
      }
      i >>= 1n;
    } else {
      fr = nodeHash(p, fr);
      sr = nodeHash(p, sr);
    }
  }
  if (!equalBytes(fr, oldRoot) || !equalBytes(sr, newRoot)) {
    const which = !equalBytes(fr, oldRoot) ? ['旧根', 'old'] : ['新根', 'new'];
    throw new ProofError(step, `${zh}得不到${which[0]}`, `${what} does not lead to the ${which[1]} root`);
  }
}

function largestPowerBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 9162 PATH(index, D[0:n]) over leaf hashes, leaf's sibling first (for tests and tools). */
export function inclusionProof(hashes, index) {
  const n = hashes.length;
  if (n <= 1) return [];
  const k = largestPowerBelow(n);
  if (index < k) return [...inclusionProof(hashes.slice(0, k), index), rootOfLeafHashes(hashes.slice(k))];
  return [...inclusionProof(hashes.slice(k), index - k), rootOfLeafHashes(hashes.slice(0, k))];
}

/** RFC 9162 PROOF(m, D[0:n]) over leaf hashes (for tests and tools). */
export function consistencyProof(hashes, m) {
  const sub = (leaves, mm, complete) => {
    const n = leaves.length;
    if (mm === n) return complete ? [] : [rootOfLeafHashes(leaves)];
    const k = largestPowerBelow(n);
    if (mm <= k) return [...sub(leaves.slice(0, k), mm, complete), rootOfLeafHashes(leaves.slice(k))];
    return [...sub(leaves.slice(k), mm - k, false), rootOfLeafHashes(leaves.slice(0, k))];
  };
  if (m === 0 || m === hashes.length) return [];
  return sub(hashes, m, true);
}
