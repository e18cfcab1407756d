import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromise, promiseText, verifyReceipt } from '../src/receipt.mjs';
import { encode, parseCanonical } from '../src/canonical.mjs';
import { parseVkey } from '../src/note.mjs';
import { FormatError, IntegrityError, ProofError, SignatureError } from '../src/errors.mjs';
import { bytes, hex, vector } from '../testutil.mjs';

const ev = vector('entry-v1.json');
const rv = vector('receipt-v1.json');
const trust = { origin: ev.keys.log.name, logKey: parseVkey(ev.keys.log.vkey), witnesses: [parseVkey(ev.keys.witness.vkey)] };

test('receipt-v1.json: the promise text, and both receipts verify', () => {
  const e = ev.entries[rv.entry_index];
  assert.equal(promiseText(ev.keys.log.name, 3, 3, hex(e.entry_hash), '2026-01-04T16:00:03.000000+08:00'), rv.promise_text);
  assert.equal(rv.promise_note.startsWith(rv.promise_text + '\n'), true);
  const plain = verifyReceipt(bytes(rv.receipt), trust);
  assert.equal(plain.proved, false);
  assert.equal(plain.entry.seq, 3);
  const proved = verifyReceipt(encode(rv.receipt_with_proof), trust);
  assert.equal(proved.proved, true);
  assert.equal(verifyReceipt(rv.receipt_with_proof, trust).proved, true);
});

test('a tampered receipt fails at its step', () => {
  const r = parseCanonical(rv.receipt);
  const p = rv.receipt_with_proof;
  const entry4 = ev.entries[2].entry;
  const cases = [
    [{ ...r, format: 'drawledger/receipt/v2' }, FormatError],
    [{ ...r, extra: 1 }, /exactly/],
    [{ ...r, first: '3' }, /receipt.first/],
    [{ ...r, origin: 'other.test/log' }, IntegrityError],
    [{ ...r, first: 2 }, /differ from the signed promise/],
    [{ ...r, promise: r.promise.replace('P1Tfo4', 'P1Tfo5') }, SignatureError],
    [{ ...r, promise: r.promise.replace('\n\n', '\n') }, /receipt.promise/],
    [{ ...r, entry: r.entry.replace('"risk":"B"', '"risk":"C"') }, /does not hash to the promised/],
    [{ ...r, entry: entry4 }, /is entry 2, the promise names 3/],
    [{ ...r, entry: r.entry.replace('{"actor"', '{ "actor"') }, /receipt.entry/],
    [{ ...p, proof: p.proof.replace('index 3', 'index 2') }, /is for entry 2/],
    [{ ...p, proof: p.proof.replace(p.proof.split('\n')[2], p.proof.split('\n')[3]) }, ProofError],
    [{ ...p, proof: p.proof.replace('c2sp.org', 'c2sp.com') }, /receipt.proof/],
    [{ ...r, due: { ended_on: '2026-09-25' } }, /receipt.due/],
  ];
  for (const [obj, expected] of cases) assert.throws(() => verifyReceipt(encode(obj), trust), expected, JSON.stringify(obj).slice(0, 80));
  assert.throws(() => verifyReceipt(bytes(rv.receipt + ' '), trust), /canonical form/);
  assert.throws(() => parsePromise(rv.promise_text.replace('first 3', 'first 4')), /first 4 is after last 3/);
});
