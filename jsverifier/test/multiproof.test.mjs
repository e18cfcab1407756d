import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inclusionProof, leafHash, rootOfLeafHashes } from '../src/merkle.mjs';
import { decodeHashes, multiProof, multiProofLength, rootFromMultiProof, verifyMultiInclusion } from '../src/multiproof.mjs';
import { ProofError } from '../src/errors.mjs';
import { toHex } from '../src/bytes.mjs';
import { bytes, vector } from '../testutil.mjs';

const v = vector('entity-proof-v1.json');
const leaf = (i) => leafHash(bytes(String(i)));

test('entity-proof-v1.json multiproof: each proof leads from its leaves to its root', () => {
  assert.ok(v.multiproof.length >= 8);
  for (const c of v.multiproof) {
    const proof = decodeHashes(c.proof, 'proof');
    const [root] = decodeHashes([c.root], 'root');
    assert.equal(multiProofLength(c.indices.map(BigInt), BigInt(c.size)), proof.length, `size ${c.size}`);
    verifyMultiInclusion(c.indices, BigInt(c.size), c.indices.map(leaf), proof, root);
  }
});

test('random sizes and index sets: the root of merkle.mjs, one leaf is its RFC 9162 path, tampers fail', () => {
  let seed = 16;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const all = Array.from({ length: 300 }, (_, i) => leaf(i));
  for (let round = 0; round < 300; round++) {
    const size = 1 + rand(299);
    const hashes = all.slice(0, size);
    const pick = new Set();
    const want = 1 + rand(Math.min(size, 8));
    while (pick.size < want) pick.add(rand(size));
    const idx = [...pick].sort((a, b) => a - b);
    const leaves = idx.map((i) => hashes[i]);
    const proof = multiProof(hashes, idx);
    const root = rootOfLeafHashes(hashes);
    assert.equal(toHex(rootFromMultiProof(idx, size, leaves, proof)), toHex(root), `size ${size} ${idx}`);
    if (idx.length === 1) assert.deepEqual(proof.map(toHex).sort(), inclusionProof(hashes, idx[0]).map(toHex).sort());
    const bad = [];
    if (proof.length) bad.push(proof.slice(1), [new Uint8Array(32), ...proof.slice(1)]);
    if (proof.length > 1 && toHex(proof[0]) !== toHex(proof[1])) bad.push([proof[1], proof[0], ...proof.slice(2)]);
    for (const p of bad) assert.throws(() => verifyMultiInclusion(idx, size, leaves, p, root), ProofError);
    if (size < 300) assert.throws(() => verifyMultiInclusion(idx, size + 1, leaves, proof, rootOfLeafHashes(all.slice(0, size + 1))), ProofError);
  }
  assert.throws(() => rootFromMultiProof([3, 2], 8, [leaf(3), leaf(2)], []), ProofError);
  assert.throws(() => rootFromMultiProof([8], 8, [leaf(8)], []), ProofError);
});
