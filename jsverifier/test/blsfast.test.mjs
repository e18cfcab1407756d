// drand.mjs checks signatures on G1 with cached pairing lines (verifyShort) instead of
// noble's shortSignatures.verify: both must say the same on every vector and on tampered
// rounds, signatures and keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bls12_381, sha256 } from '../vendor/noble.mjs';
import { BAD, DST_G1, DST_G2, OK, parseChain, verifyBeacon } from '../src/drand.mjs';
import { u64be } from '../src/bytes.mjs';
import { hex, vector } from '../testutil.mjs';

const d = vector('drand.json');
const g1 = d.vectors.filter((x) => x.scheme !== 'pedersen-bls-chained');

function noble(x, round, signature, publicKey) {
  const mode = bls12_381.shortSignatures;
  const message = sha256(u64be(BigInt(round)));
  const dst = x.scheme === 'bls-unchained-on-g1' ? DST_G2 : DST_G1; // the deprecated scheme's DST
  try {
    return mode.verify(bls12_381.G1.Point.fromBytes(signature), mode.hash(message, dst), bls12_381.G2.Point.fromBytes(publicKey)) ? OK : BAD;
  } catch {
    return BAD;
  }
}

test('signatures on G1: the cached-lines check agrees with noble\'s verify', () => {
  assert.ok(g1.length >= 3);
  const keys = g1.map((x) => x.public_key);
  for (const x of g1) {
    for (const key of keys) {
      const chain = parseChain({ name: x.label, chain_hash: '00'.repeat(32), scheme: x.scheme, public_key: key, genesis: 0, period: 1 });
      for (const round of [x.round, x.round + 1]) {
        const want = noble(x, round, hex(x.signature), hex(key));
        const got = verifyBeacon(chain, { round, signature: hex(x.signature), previous_signature: null });
        assert.equal(got, want, `${x.label}, key ${key.slice(0, 8)}, round ${round}`);
        if (round === x.round && key === x.public_key) assert.equal(got, OK, x.label);
      }
    }
  }
});
