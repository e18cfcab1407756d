import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  consistencyProof, EMPTY_ROOT, inclusionProof, leafHash, rootFromInclusion, rootOfLeafHashes,
  verifyConsistency, verifyInclusion,
} from '../src/merkle.mjs';
import { ProofError } from '../src/errors.mjs';
import { toHex } from '../src/bytes.mjs';
import { flip, hex, vector } from '../testutil.mjs';

const v = vector('rfc6962.json');
const leaves = v.leaves_hex.map((h) => leafHash(hex(h)));
const roots = v.roots_hex.map(hex);

test('rfc6962.json: roots for sizes 0..8 and the size-8 path of leaf 0', () => {
  assert.equal(toHex(EMPTY_ROOT), v.roots_hex[0]);
  for (let n = 0; n <= 8; n++) assert.equal(toHex(rootOfLeafHashes(leaves.slice(0, n))), v.roots_hex[n], `size ${n}`);
  assert.deepEqual(inclusionProof(leaves, 0).map((h) => toHex(h).slice(0, 8)), v.inclusion_leaf0_size8_prefixes);
});

test('every inclusion proof of every size verifies, and every single change fails', () => {
  for (let n = 1; n <= 8; n++) {
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(leaves.slice(0, n), i);
      verifyInclusion(BigInt(i), BigInt(n), leaves[i], proof, roots[n]);
      verifyInclusion(i, n, leaves[i], proof, roots[n]); // numbers are taken as well
      proof.forEach((_, k) => {
        const bad = proof.map((h, j) => (j === k ? flip(h, 31) : h));
        assert.throws(() => verifyInclusion(i, n, leaves[i], bad, roots[n]), ProofError);
      });
      assert.throws(() => verifyInclusion(i, n, leaves[(i + 1) % 8], proof, roots[n]), ProofError);
      assert.throws(() => verifyInclusion(i, n, leaves[i], [...proof, leaves[0]], roots[n]), /the tree shape needs/);
      if (proof.length) assert.throws(() => verifyInclusion(i, n, leaves[i], proof.slice(1), roots[n]), /the tree shape needs/);
      if (n > 1) assert.throws(() => verifyInclusion((i + 1) % n, n, leaves[i], proof, roots[n]), ProofError);
    }
    assert.throws(() => verifyInclusion(n, n, leaves[0], [], roots[n]), /index not below size/);
  }
  assert.throws(() => verifyInclusion(0, 2, leaves[0], [leaves[1].slice(0, 31)], roots[2]), /not 32 bytes/);
});

test('every consistency proof between sizes 0..8 verifies, and every change fails', () => {
  for (let n = 0; n <= 8; n++) {
    for (let m = 0; m <= n; m++) {
      const proof = consistencyProof(leaves.slice(0, n), m);
      verifyConsistency(BigInt(m), BigInt(n), roots[m], roots[n], proof);
      proof.forEach((_, k) => {
        const bad = proof.map((h, j) => (j === k ? flip(h, 0) : h));
        assert.throws(() => verifyConsistency(m, n, roots[m], roots[n], bad), ProofError);
      });
      if (m > 0 && m < n) {
        assert.throws(() => verifyConsistency(m, n, roots[m - 1], roots[n], proof), ProofError);
        assert.throws(() => verifyConsistency(m, n, roots[m], roots[n - 1], proof), /new root/);
        assert.throws(() => verifyConsistency(m, n, roots[m], roots[n], proof.slice(1)), /the tree shape needs/);
      } else {
        assert.throws(() => verifyConsistency(m, n, roots[m], roots[n], [leaves[0]]), /must be empty/);
      }
    }
  }
  assert.throws(() => verifyConsistency(3, 2, roots[3], roots[2], []), /old size not within/);
  assert.throws(() => verifyConsistency(0, 3, roots[1], roots[3], []), /empty root/);
});

test('clarifications-v1.json bundle_consistency: hex proof from 3 to 7', () => {
  const b = vector('clarifications-v1.json').bundle_consistency;
  const hashes = b.leaves_hex.map((h) => leafHash(hex(h)));
  assert.equal(toHex(rootOfLeafHashes(hashes.slice(0, 3))), b.old_root_hex);
  assert.equal(toHex(rootOfLeafHashes(hashes)), b.new_root_hex);
  const proof = b.item.proof.map(hex);
  assert.deepEqual(consistencyProof(hashes, 3).map(toHex), b.item.proof);
  verifyConsistency(b.item.old, b.item.new, hex(b.old_root_hex), hex(b.new_root_hex), proof);
  assert.throws(() => verifyConsistency(3, 7, hex(b.old_root_hex), hex(b.new_root_hex), proof.reverse()), ProofError);
});

test('indices and sizes beyond 2^53 are exact (BigInt), the shape still fixed', () => {
  const size = 2n ** 64n - 1n;
  const index = 2n ** 63n + 12345n;
  const path = Array.from({ length: 64 }, (_, i) => leaves[i % 8]);
  // index 2^63+12345 of 2^64-1 leaves: 63 levels below the split, one left sibling above
  assert.equal(rootFromInclusion(index, size, leaves[0], path).length, 32);
  assert.throws(() => rootFromInclusion(index, size, leaves[0], path.slice(0, 63)), /the tree shape needs 64/);
  assert.throws(() => verifyInclusion(index, size, leaves[0], path, roots[8]), ProofError);
  // the last leaf of 2^64-1 sits on the ragged edge: 63 left siblings, no level below
  assert.equal(rootFromInclusion(size - 1n, size, leaves[0], path.slice(0, 63)).length, 32);
  assert.throws(() => verifyInclusion(size, size, leaves[0], [], roots[1]), /index not below size/);
  assert.throws(() => verifyInclusion(-1, 2, leaves[0], [], roots[1]), /not a non-negative integer/);
  assert.throws(() => verifyInclusion(2 ** 60, 2 ** 61, leaves[0], [], roots[1]), /not a non-negative integer/);
  verifyConsistency(2n ** 62n, 2n ** 62n, roots[3], roots[3], []);
});
