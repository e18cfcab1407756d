import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '../vendor/noble.mjs';
import {
  cosignatureMessage, keyId, MAX_SIGNATURES, parseCheckpoint, parseNote, parseVkey,
  verifyCheckpointNote, verifyCosignatures, verifyNote,
} from '../src/note.mjs';
import { FormatError, IntegrityError, SignatureError, TrustError } from '../src/errors.mjs';
import { concat, fromBase64, toBase64, toHex, u64be, utf8 } from '../src/bytes.mjs';
import { hex, vector } from '../testutil.mjs';

const c2sp = vector('c2sp-signed-note.json').examples;
const ev = vector('entry-v1.json');
const clar = vector('clarifications-v1.json');
const logKey = parseVkey(ev.keys.log.vkey);
const witness = parseVkey(ev.keys.witness.vkey);
const origin = ev.keys.log.name;

function signLine(name, sigtype, seed, message, timestamp = null) {
  const pub = ed25519.getPublicKey(seed);
  let payload = ed25519.sign(message, seed);
  if (timestamp !== null) payload = concat(u64be(timestamp), payload);
  return `\u2014 ${name} ${toBase64(concat(keyId(name, sigtype, pub), payload))}\n`;
}

test('C2SP signed-note examples verify byte for byte', () => {
  const [first, second] = c2sp;
  const k1 = parseVkey(first.vkey);
  assert.deepEqual(verifyNote(parseNote(first.note), [k1]), [k1]);
  const raw = fromBase64(second.skey.split('+').slice(4).join('+'), 't', 'skey');
  assert.equal(raw[0], 1);
  const k2 = parseVkey(second.vkey);
  assert.equal(toHex(ed25519.getPublicKey(raw.slice(1))), toHex(k2.publicKey));
  const line = signLine(k2.name, 1, raw.slice(1), utf8(second.text));
  assert.equal(line, second.signature_line + '\n');
  verifyNote(parseNote(`${second.text}\n${line}`), [k2]);
});

test('entry-v1 checkpoint: log signature, origin and the witness cosignature time', () => {
  const { note, checkpoint } = verifyCheckpointNote(ev.checkpoint_note, logKey, origin);
  assert.equal(note.text, ev.checkpoint_text);
  assert.equal(checkpoint.size, 4n);
  assert.equal(toBase64(checkpoint.root), ev.merkle_root_b64);
  assert.deepEqual(verifyCosignatures(note, [witness]), new Map([['test-witness', BigInt(ev.cosignature_timestamp)]]));
  assert.throws(() => verifyCheckpointNote(ev.checkpoint_note, logKey, 'other.test/log'), IntegrityError);
  assert.throws(() => verifyCheckpointNote(ev.checkpoint_note, parseVkey(ev.keys.authority.vkey), origin), SignatureError);
  const batchNote = parseNote(clar.batch.checkpoint_note);
  verifyNote(batchNote, [logKey]);
  assert.equal(verifyCosignatures(batchNote, [witness]).size, 1);
});

test('checkpoint extension lines are signed and ignored; an empty one is malformed', () => {
  const x = clar.checkpoint_extension;
  const { checkpoint } = verifyCheckpointNote(x.note, logKey, origin);
  assert.deepEqual(checkpoint.extensions, ['drawledger-test-extension value']);
  assert.equal(x.accepted, true);
  assert.equal(x.empty_extension_accepted, false);
  assert.throws(() => verifyCheckpointNote(x.note_with_empty_extension, logKey, origin), /empty extension line/);
});

test('a tampered cosignature, time or text fails; unknown cosigners are ignored', () => {
  const note = parseNote(ev.checkpoint_note);
  const cos = note.signatures[1];
  const later = { ...cos, signature: concat(u64be(BigInt(ev.cosignature_timestamp) + 1n), cos.signature.slice(8)) };
  assert.throws(() => verifyCosignatures({ ...note, signatures: [note.signatures[0], later] }, [witness]), SignatureError);
  assert.throws(() => verifyCosignatures({ ...note, text: note.text.replace('\n4\n', '\n5\n') }, [witness]), SignatureError);
  const short = { ...cos, signature: cos.signature.slice(0, 70) };
  assert.throws(() => verifyCosignatures({ ...note, signatures: [short] }, [witness]), /an Ed25519 cosignature is 76/);
  assert.throws(() => verifyCosignatures({ ...note, signatures: [cos, cos] }, [witness]), /two cosignatures/);
  const huge = { ...cos, signature: concat(hex('8000000000000000'), cos.signature.slice(8)) };
  assert.throws(() => verifyCosignatures({ ...note, signatures: [huge] }, [witness]), /over 2\^63-1/);
  assert.throws(() => verifyCosignatures(note, [logKey]), TrustError);
  const stranger = parseVkey(`other-witness+${toHex(keyId('other-witness', 4, witness.publicKey))}+${toBase64(concat(Uint8Array.of(4), witness.publicKey))}`);
  assert.equal(verifyCosignatures(note, [stranger]).size, 0);
  assert.deepEqual(cosignatureMessage('a\n', 5n), utf8('cosignature/v1\ntime 5\na\n'));
});

test('note verification: unknown keys ignored, a repeated or bad known signature refused', () => {
  const note = parseNote(ev.checkpoint_note);
  const logLine = note.signatures[0];
  assert.throws(() => verifyNote({ ...note, signatures: [note.signatures[1]] }, [logKey]), /not signed by any trusted key/);
  assert.throws(() => verifyNote({ ...note, signatures: [logLine, logLine] }, [logKey]), /two signatures/);
  const bad = { ...logLine, signature: logLine.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
  assert.throws(() => verifyNote({ ...note, signatures: [bad] }, [logKey]), SignatureError);
  const renamed = { ...logLine, name: 'example.test/other' }; // same id, other name: not the key
  assert.throws(() => verifyNote({ ...note, signatures: [renamed] }, [logKey]), /not signed by any trusted key/);
  assert.throws(() => verifyNote(note, [witness]), TrustError);
});

test('the 100-signature cap', () => {
  const seed = Uint8Array.from({ length: 32 }, () => 7);
  const text = ev.checkpoint_text;
  const others = Array.from({ length: MAX_SIGNATURES - 1 }, (_, i) => signLine(`w${i}`, 1, seed, utf8(text)));
  const logLine = ev.checkpoint_note.split('\n\n')[1].split('\n')[0] + '\n';
  verifyNote(parseNote(`${text}\n${others.join('')}${logLine}`), [logKey]);
  const extra = signLine('w-extra', 1, seed, utf8(text));
  assert.throws(() => parseNote(`${text}\n${others.join('')}${extra}${logLine}`), /over the limit of 100/);
});

test('malformed notes, checkpoints and vkeys are refused naming the line', () => {
  const n = ev.checkpoint_note;
  const cases = [
    [n.slice(0, -1), /does not end with a newline/],
    [n.replace('\n\n', '\n'), /no blank line/],
    [`${ev.checkpoint_text}\n\n`, /no signature lines/],
    [n.replace('\u2014 example', '- example'), /line 5: signature line does not start/],
    [n.replace('\u2014 example.test/drawledger ', '\u2014 example.test/drawledger  '), /line 5/],
    [n.replace('P1Tfo1nj', 'P1Tfo1n*'), /not canonical base64/],
    [n.replace('\n4\n', '\n4\t\n'), /control character U\+0009/],
    [`x\n\n\u2014 k AAAA\n`, /too short/],
    [`x\n\n\u2014 a+b AAAAAAA=\n`, /contains a space, '\+' or control/],
    [`x\n\n\u2014 a\u00a0b AAAAAAA=\n`, /contains a space/],
  ];
  for (const [text, expected] of cases) assert.throws(() => parseNote(text), expected, JSON.stringify(text.slice(-40)));
  assert.throws(() => parseNote(hex('ff0a0a')), /UTF-8/);
  for (const [text, expected] of [['o\n01\nJ88uojZVsDF7Zk4Gn9u6X43d2wtksSYagJEACS4kkhE=\n', /tree size/],
    ['o\n18446744073709551616\nJ88uojZVsDF7Zk4Gn9u6X43d2wtksSYagJEACS4kkhE=\n', /tree size/],
    ['\n1\nJ88uojZVsDF7Zk4Gn9u6X43d2wtksSYagJEACS4kkhE=\n', /origin is empty/],
    ['o\n1\nAAAA\n', /root hash is 3 bytes/], ['o\n1\n', /needs origin, size and root/]]) {
    assert.throws(() => parseCheckpoint(text), expected, text);
  }
  assert.equal(parseCheckpoint('o\n18446744073709551615\nJ88uojZVsDF7Zk4Gn9u6X43d2wtksSYagJEACS4kkhE=\n').size, 2n ** 64n - 1n);
  const vk = ev.keys.log.vkey;
  for (const bad of [vk.replace('+3f54dfa3+', '+3f54dfa4+'), vk.replace('+3f54dfa3+', '+3F54DFA3+'), 'name+only',
    vk.replace('+AYqI', '+AoqI'), vk.slice(0, -1), `+3f54dfa3+${vk.split('+')[2]}`]) {
    assert.throws(() => parseVkey(bad), FormatError, bad);
  }
});
