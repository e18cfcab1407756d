import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTlogProof, verifyTlogProof } from '../src/tlogproof.mjs';
import { parseVkey } from '../src/note.mjs';
import { parseEntry } from '../src/entry.mjs';
import { FormatError, IntegrityError, ProofError, SignatureError } from '../src/errors.mjs';
import { toBase64 } from '../src/bytes.mjs';
import { bytes, vector } from '../testutil.mjs';

const ev = vector('entry-v1.json');
const rv = vector('receipt-v1.json');
const logKey = parseVkey(ev.keys.log.vkey);
const witness = parseVkey(ev.keys.witness.vkey);
const origin = ev.keys.log.name;
const text = rv.receipt_with_proof.proof;
const leaf = parseEntry(bytes(rv.receipt_with_proof.entry)).hash;

test('the receipt vector\'s tlog-proof of entry 3 verifies under the pinned key and origin', () => {
  const proof = parseTlogProof(text);
  assert.equal(proof.index, 3n);
  assert.equal(proof.extra, null);
  const { checkpoint, cosigned } = verifyTlogProof(proof, leaf, logKey, origin, [witness]);
  assert.equal(checkpoint.size, 4n);
  assert.equal(cosigned.get('test-witness'), BigInt(ev.cosignature_timestamp));
  assert.equal(parseTlogProof(bytes(text)).note, proof.note);
});

test('extra is carried, never trusted: it changes no verdict', () => {
  const withExtra = text.replace('c2sp.org/tlog-proof@v1\n', 'c2sp.org/tlog-proof@v1\nextra AAEC\n');
  const proof = parseTlogProof(withExtra);
  assert.deepEqual(proof.extra, Uint8Array.of(0, 1, 2));
  verifyTlogProof(proof, leaf, logKey, origin);
});

test('a tampered proof fails at its step', () => {
  const proof = parseTlogProof(text);
  assert.throws(() => verifyTlogProof({ ...proof, index: 2n }, leaf, logKey, origin), ProofError);
  assert.throws(() => verifyTlogProof({ ...proof, path: proof.path.slice(1) }, leaf, logKey, origin), /the tree shape needs/);
  assert.throws(() => verifyTlogProof(proof, parseEntry(bytes(ev.entries[2].entry)).hash, logKey, origin), ProofError);
  assert.throws(() => verifyTlogProof(proof, leaf, logKey, 'other.test/log'), IntegrityError);
  assert.throws(() => verifyTlogProof(proof, leaf, parseVkey(ev.keys.authority.vkey), origin), SignatureError);
  const note = proof.note.replace(/\n4\n/, '\n5\n');
  assert.throws(() => verifyTlogProof({ ...proof, note }, leaf, logKey, origin), SignatureError);
});

test('malformed proofs are refused naming the line', () => {
  const lines = text.split('\n');
  const cases = [
    [text.replace('c2sp.org/tlog-proof@v1', 'c2sp.org/tlog-proof@v2'), /line 1/],
    [text.replace('index 3', 'index 03'), /line 2: index/],
    [text.replace('index 3', 'index 18446744073709551616'), /line 2: index/],
    [text.replace('index 3\n', ''), /line 2: expected 'index <n>'/],
    [text.replace(lines[2], lines[2].slice(0, -2) + '=='), /line 3: path hash/],
    [text.replace(lines[2], 'AAAA'), /line 3: path hash is 3 bytes/],
    [text.replace('\n\n', '\n'), FormatError],
    [text.replace(lines[2], Array(65).fill(lines[2]).join('\n')), /66 path hashes, over 64/],
    [text.slice(0, -2), FormatError],
    [text.slice(0, text.indexOf('\n\n') + 2), FormatError],
  ];
  for (const [bad, expected] of cases) assert.throws(() => parseTlogProof(bad), expected, bad.slice(0, 80));
  assert.equal(parseTlogProof(text.replace(lines[2], Array(63).fill(lines[2]).join('\n'))).path.length, 64);
  assert.equal(toBase64(parseTlogProof(text).path[0]), lines[2]);
});
