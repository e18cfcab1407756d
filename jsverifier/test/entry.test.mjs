import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchDigest, batchMessage, ctimeValid, entryHash, parseBatchSid, parseEntry, statementBytes,
  verifyBatch, verifyChain, verifyStatement,
} from '../src/entry.mjs';
import { CanonicalError, FormatError, IntegrityError, SignatureError } from '../src/errors.mjs';
import { fromBase64, toBase64, toHex } from '../src/bytes.mjs';
import { encode, parseCanonical } from '../src/canonical.mjs';
import { rootOfLeafHashes, verifyInclusion } from '../src/merkle.mjs';
import { parseVkey } from '../src/note.mjs';
import { bytes, flip, vector } from '../testutil.mjs';

const v = vector('entry-v1.json');
const keys = Object.fromEntries(Object.values(v.keys).map((k) => [k.name, parseVkey(k.vkey)]));
const entries = v.entries.map((e) => parseEntry(bytes(e.entry)));
const clar = vector('clarifications-v1.json');

test('entry-v1.json: entry hashes, statement bytes and signatures recompute', () => {
  assert.equal(entries.length, 4);
  v.entries.forEach((e, i) => {
    assert.equal(toHex(entries[i].hash), e.entry_hash);
    assert.equal(toHex(entryHash(bytes(e.entry))), e.entry_hash);
    assert.deepEqual(statementBytes(entries[i]), bytes(e.statement_bytes));
    assert.equal(entries[i].seq, i);
    verifyStatement(entries[i], keys[entries[i].sig.key]);
  });
  verifyChain(entries);
  assert.equal(toBase64(rootOfLeafHashes(entries.map((e) => e.hash))), v.merkle_root_b64);
  const path = v.inclusion_proof_index_2.map((h) => fromBase64(h, 'test', 'path'));
  verifyInclusion(2n, 4n, entries[2].hash, path, fromBase64(v.merkle_root_b64, 'test', 'root'));
});

test('a changed body, signer or signature fails the statement signature', () => {
  const e = entries[3];
  const body = { ...e.body, risk: 'A' };
  assert.throws(() => verifyStatement({ ...e, body }, keys[e.sig.key]), SignatureError);
  assert.throws(() => verifyStatement(e, keys['test-office']), SignatureError);
  const sig = { ...e.sig, sid: 'sid-9' };
  assert.throws(() => verifyStatement({ ...e, sig }, keys[e.sig.key]), SignatureError);
  const value = toBase64(flip(fromBase64(e.sig.value, 't', 'v'), 10));
  assert.throws(() => verifyStatement({ ...e, sig: { ...e.sig, value } }, keys[e.sig.key]), SignatureError);
});

test('the chain breaks at a changed prev, a gap or a time going back', () => {
  const tampered = parseEntry(bytes(v.entries[2].entry.replace(/"prev":"bd/, '"prev":"be')));
  assert.throws(() => verifyChain([entries[0], entries[1], tampered]), IntegrityError);
  assert.throws(() => verifyChain([entries[0], entries[2]]), /follows entry 0/);
  const early = { ...entries[1], time: '2025-01-01T00:00:00.000000+08:00' };
  assert.throws(() => verifyChain([entries[0], early]), /time before/);
  assert.throws(() => verifyChain([{ ...entries[0], prev: 'a'.repeat(64) }]), /64 zeros/);
});

test('malformed entries are refused naming the field', () => {
  const text = v.entries[3].entry;
  const obj = parseCanonical(text);
  const cases = [
    [text.replace('{"actor"', '{ "actor"'), CanonicalError],
    [text + '\n', CanonicalError],
    [encode({ ...obj, extra: 1 }), /entry fields wrong/],
    [encode({ ...obj, seq: -1 }), /field seq/],
    [encode({ ...obj, version: 0 }), /field version/],
    [encode({ ...obj, prev: obj.prev.toUpperCase() }), /field prev/],
    [encode({ ...obj, time: '2026-01-04T16:00:03+08:00' }), /field time/],
    [encode({ ...obj, type: 'Target.added' }), /field type/],
    [encode({ ...obj, type: 'target' }), /field type/],
    [encode({ ...obj, stream: '' }), /field stream/],
    [encode({ ...obj, actor: 'x'.repeat(257) }), /field actor/],
    [encode({ ...obj, body: [] }), /field body/],
    [encode({ ...obj, sig: { ...obj.sig, extra: 'x' } }), /field sig/],
    [encode({ ...obj, sig: { ...obj.sig, key: '' } }), /field sig.key/],
    [encode({ ...obj, sig: { ...obj.sig, ctime: '2026-02-30T00:00:00Z' } }), /field sig.ctime/],
    [encode({ ...obj, sig: { ...obj.sig, value: obj.sig.value.slice(0, 85) + 'B==' } }), /field sig.value/],
    [encode([obj]), /not a JSON object/],
  ];
  for (const [data, expected] of cases) assert.throws(() => parseEntry(bytes(data)), expected, data.slice(0, 60));
  assert.throws(() => parseEntry(new Uint8Array((1 << 20) + 1).fill(32)), /over the 1048576-byte limit/);
  assert.equal(parseEntry(encode({ ...obj, actor: '😀'.repeat(256) })).actor.length, 512);
});

test('every ctime vector gets its verdict (clarifications-v1.json)', () => {
  assert.equal(clar.ctime.length, 32);
  const obj = parseCanonical(v.entries[3].entry);
  for (const c of clar.ctime) {
    assert.equal(ctimeValid(c.ctime), c.accepted, c.why);
    const data = encode({ ...obj, sig: { ...obj.sig, ctime: c.ctime } });
    if (c.accepted) parseEntry(data);
    else assert.throws(() => parseEntry(data), FormatError, c.why);
  }
});

test('the batch vector: member statement bytes, digests, message and signature', () => {
  const b = clar.batch;
  const all = [...entries.slice(0, 3), ...b.entries.map((e) => parseEntry(bytes(e.entry)))];
  verifyChain(all);
  const members = all.slice(4);
  b.entries.slice(1).forEach((e, i) => {
    assert.deepEqual(statementBytes(members[i]), bytes(e.statement_bytes));
    assert.deepEqual(parseBatchSid(members[i].sig.sid), { batch: 'B1', index: i, count: 2 });
  });
  const key = keys['ZC-SCJGJ-test'];
  verifyStatement(all[3], key); // the announcing import record is signed on its own
  assert.equal(toHex(batchDigest(members)), b.D_hex);
  assert.notEqual(b.D_hex, b.D_without_prefix_hex);
  assert.deepEqual(batchMessage(key.name, 'B1', members[0].sig.ctime, 2, batchDigest(members)), bytes(b.batch_message));
  assert.equal(members[0].sig.value, b.signature_b64);
  verifyBatch(members, key);
  assert.throws(() => verifyBatch([members[1], members[0]], key), IntegrityError);
  assert.throws(() => verifyBatch(members.slice(0, 1), key), IntegrityError);
  assert.throws(() => verifyBatch(members, keys['test-office']), SignatureError);
  const changed = { ...members[1], body: { ...members[1].body, risk: 'D' } };
  assert.throws(() => verifyBatch([members[0], changed], key), SignatureError);
  for (const sid of ['batch/B1/2/2', 'batch/B1/01/2', 'batch//0/2', 'batch/B1/0', 'batch/a/b/0/2']) {
    assert.throws(() => parseBatchSid(sid), IntegrityError, sid);
  }
  assert.equal(parseBatchSid('sid-3'), null);
});
