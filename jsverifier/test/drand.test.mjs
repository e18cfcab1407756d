import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BAD, KNOWN_CHAINS, OK, chainByHash, parseChain, randomness, roundAt, roundTime, verifyBeacon,
} from '../src/drand.mjs';
import { FormatError, TrustError } from '../src/errors.mjs';
import { toHex } from '../src/bytes.mjs';
import { flip, hex, vector } from '../testutil.mjs';

const d = vector('drand.json');

function chainOf(x) {
  return parseChain({ name: x.label, chain_hash: '00'.repeat(32), scheme: x.scheme, public_key: x.public_key, genesis: 0, period: 1 });
}

function beaconOf(x) {
  return { round: x.round, signature: hex(x.signature), previous_signature: x.previous_signature ? hex(x.previous_signature) : null };
}

test('the pinned League of Entropy chains are drand.json\'s', () => {
  for (const [name, c] of Object.entries(d.chains)) {
    const k = KNOWN_CHAINS[name];
    assert.deepEqual([k.chain_hash, k.scheme, k.public_key, k.genesis, k.period],
      [c.chain_hash, c.scheme, c.public_key, BigInt(c.genesis_unix), BigInt(c.period_s)]);
    assert.equal(chainByHash(c.chain_hash), k);
  }
  assert.equal(chainByHash('11'.repeat(32)), null);
});

test('every drand.json beacon verifies, with its randomness; the next and previous rounds do not', () => {
  assert.equal(d.vectors.length, 6);
  for (const x of d.vectors) {
    const chain = chainOf(x);
    const b = beaconOf(x);
    assert.equal(verifyBeacon(chain, b), OK, x.label);
    assert.equal(toHex(randomness(b.signature)), x.randomness, x.label);
    assert.equal(verifyBeacon(chain, { ...b, round: x.round + 1 }), BAD, `${x.label}: wrong round`);
    if (x.round > 1) assert.equal(verifyBeacon(chain, { ...b, round: x.round - 1 }), BAD, `${x.label}: wrong round`);
    assert.equal(verifyBeacon(chain, { ...b, signature: flip(b.signature, b.signature.length - 1) }), BAD, `${x.label}: changed signature`);
  }
});

test('checks 1-4 of SPEC 13.1.4: round range, size, one stored form, a subgroup point', () => {
  const q = d.vectors.find((x) => x.label.includes('quicknet'));
  const chain = KNOWN_CHAINS['loe-quicknet'];
  const b = beaconOf(q);
  for (const round of [0, -1, 2n ** 64n, 1.5, '657413']) assert.equal(verifyBeacon(chain, { ...b, round }), BAD, String(round));
  assert.equal(verifyBeacon(chain, { ...b, signature: b.signature.slice(1) }), BAD);
  assert.equal(verifyBeacon(chain, { ...b, previous_signature: b.signature }), BAD);
  const identity = new Uint8Array(48);
  identity[0] = 0xc0;
  assert.equal(verifyBeacon(chain, { ...b, signature: identity }), BAD);
  const uncompressed = Uint8Array.from(b.signature);
  uncompressed[0] &= 0x7f;
  assert.equal(verifyBeacon(chain, { ...b, signature: uncompressed }), BAD);
  const chained = d.vectors[1];
  assert.equal(verifyBeacon(KNOWN_CHAINS['loe-default'], { ...beaconOf(chained), previous_signature: null }), BAD);
  assert.equal(verifyBeacon(KNOWN_CHAINS['loe-default'], beaconOf(chained)), OK);
});

test('an unusable pinned key is a trust error, not a bad beacon', () => {
  const q = d.vectors.find((x) => x.label.includes('quicknet'));
  const key = `c0${'00'.repeat(95)}`;
  const chain = parseChain({ name: 'broken', chain_hash: '00'.repeat(32), scheme: q.scheme, public_key: key, genesis: 0, period: 1 });
  assert.throws(() => verifyBeacon(chain, beaconOf(q)), TrustError);
  const offCurve = parseChain({ name: 'off', chain_hash: '00'.repeat(32), scheme: q.scheme, public_key: `a0${'11'.repeat(95)}`, genesis: 0, period: 1 });
  assert.throws(() => verifyBeacon(offCurve, beaconOf(q)), TrustError);
  for (const bad of [{ scheme: 'bls-other' }, { chain_hash: 'ab' }, { public_key: q.public_key.slice(2) }, { genesis: -1 }, { period: 0 }, { name: '' }]) {
    assert.throws(() => parseChain({ name: 'x', chain_hash: '00'.repeat(32), scheme: q.scheme, public_key: q.public_key, genesis: 0, period: 1, ...bad }), FormatError, JSON.stringify(bad));
  }
});

test('round arithmetic (SPEC 13.1.2): round_time, and round_at is the ceiling', () => {
  const q = KNOWN_CHAINS['loe-quicknet'];
  assert.equal(roundTime(q, 657413), 1694775603n);
  assert.equal(roundAt(q, 1694775603), 657413n);
  assert.equal(roundAt(q, 1694775604), 657414n);
  assert.equal(roundAt(q, 1694775602), 657413n);
  assert.equal(roundAt(q, 0), 1n);
  assert.equal(roundAt(q, 1692803367), 1n);
  assert.equal(roundAt(q, 1692803368), 2n);
  assert.equal(roundTime(q, 2n ** 64n - 1n), 1692803367n + (2n ** 64n - 2n) * 3n);
  assert.throws(() => roundTime(q, 0), FormatError);
  assert.throws(() => roundAt(q, 1.5), FormatError);
  const def = KNOWN_CHAINS['loe-default'];
  assert.equal(roundTime(def, 1000), 1595431050n + 999n * 30n);
});
