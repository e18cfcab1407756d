// Multi-leaf inclusion proofs (SPEC.md 22.1): the node hashes from which the root of an
// RFC 9162 tree is recomputed from several of its leaves at once, each shared node once.
// The order is the tree's shape: D[lo:hi] splits at the largest power of two below
// hi - lo, left before right, and a subtree holding none of the proved leaves is one hash
// at its place in that walk. Indices and sizes are BigInt (a checkpoint's size may pass
// 2^53); the number of hashes is checked against the shape before any hashing.
import { FormatError, ProofError } from './errors.mjs';
import { equalBytes, fromBase64, toBase64 } from './bytes.mjs';
import { nodeHash, rootOfLeafHashes } from './merkle.mjs';

const split = (n) => 1n << BigInt((n - 1n).toString(2).length - 1);

/** A JSON list of canonical base64 32-byte hashes, or FormatError naming `where`. */
export function decodeHashes(values, where, step = 'format') {
  if (!Array.isArray(values)) throw new FormatError(step, `${where} 不是哈希列表`, `${where}: not a list of hashes`);
  return values.map((text, i) => {
    let raw = null;
    try {
      raw = fromBase64(text, step, `${where}[${i}]`);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
    }
    if (raw === null || raw.length !== 32) throw new FormatError(step, `${where}[${i}] 不是 32 字节哈希的 base64`, `${where}[${i}]: not the base64 of a 32-byte hash`);
    return raw;
  });
}

/** Hashes as the entity proof writes them: standard padded base64. */
export const encodeHashes = (hashes) => hashes.map(toBase64);

function bisect(indices, x, lo, hi) {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (indices[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function walk(indices, size, gap, leaf) {
  const visit = (lo, hi, i0, i1) => {
    if (i0 === i1) return gap(lo, hi);
    if (hi - lo === 1n) return leaf(i0);
    const mid = lo + split(hi - lo);
    const j = bisect(indices, mid, i0, i1);
    const left = visit(lo, mid, i0, j);
    return [left, visit(mid, hi, j, i1)];
  };
  return visit(0n, size, 0, indices.length);
}

function checkIndices(indices, size, step) {
  const fail = (zh, en) => new ProofError(step, `多叶包含证明：${zh}`, `multi-leaf inclusion proof: ${en}`);
  if (!indices.length) throw fail('没有要证明的叶', 'no leaf to prove');
  if (!(size > 0n && size <= 1n << 64n)) throw fail(`树大小 ${size} 超出范围`, `tree size ${size} out of range`);
  if (indices[0] < 0n || indices.some((x, i) => i > 0 && indices[i - 1] >= x)) throw fail('索引不严格递增', 'the indices are not strictly increasing');
  const last = indices[indices.length - 1];
  if (last >= size) throw fail(`索引 ${last} 不小于树大小 ${size}`, `index ${last} not below the tree size ${size}`);
}

/** How many hashes the proof of `indices` (BigInt, strictly increasing) in a tree of `size` holds. */
export function multiProofLength(indices, size, step = 'inclusion') {
  checkIndices(indices, size, step);
  let count = 0;
  walk(indices, size, () => { count++; }, () => null);
  return count;
}

/**
 * The root `proof` leads to from `leaves` (leaf hashes) at `indices` (numbers or BigInt)
 * in a tree of `size`; ProofError when the indices or the hash count do not fit the shape.
 */
export function rootFromMultiProof(indices, size, leaves, proof, step = 'inclusion') {
  const idx = indices.map(BigInt);
  const n = BigInt(size);
  const expected = multiProofLength(idx, n, step);
  if (leaves.length !== idx.length) throw new ProofError(step, `多叶包含证明：${leaves.length} 个叶对应 ${idx.length} 个索引`, `multi-leaf inclusion proof: ${leaves.length} leaves for ${idx.length} indices`);
  if (proof.length !== expected) {
    throw new ProofError(step, `${idx.length} 个叶、树大小 ${n} 的多叶包含证明有 ${proof.length} 个哈希，树形需要 ${expected} 个`,
      `multi-leaf inclusion proof for ${idx.length} leaves in size ${n}: ${proof.length} hashes, the tree shape needs ${expected}`);
  }
  let next = 0;
  const fold = (v) => (Array.isArray(v) ? nodeHash(fold(v[0]), fold(v[1])) : v);
  return fold(walk(idx, n, () => proof[next++], (i) => leaves[i]));
}

/** ProofError unless `proof` shows every leaf at its index under `root`. */
export function verifyMultiInclusion(indices, size, leaves, proof, root, step = 'inclusion') {
  if (!equalBytes(rootFromMultiProof(indices, size, leaves, proof, step), root)) {
    throw new ProofError(step, `${indices.length} 个叶、树大小 ${size} 的多叶包含证明得不到检查点的根哈希`,
      `multi-leaf inclusion proof for ${indices.length} leaves in size ${size} does not lead to the checkpoint's root`);
  }
}

/** The proof of `indices` over a list of leaf hashes (for tests and tools). */
export function multiProof(hashes, indices) {
  const idx = indices.map(BigInt);
  const out = [];
  walk(idx, BigInt(hashes.length), (lo, hi) => { out.push(rootOfLeafHashes(hashes.slice(Number(lo), Number(hi)))); }, () => null);
  return out;
}
