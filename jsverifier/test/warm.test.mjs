import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmBls } from '../src/warm.mjs';
import { verifyEntityProof } from '../src/entityproof.mjs';
import { parseTrust } from '../src/trust.mjs';
import { vector } from '../testutil.mjs';

test('the page warm-up verifies the quicknet vector, and changes no verdict', () => {
  const v = vector('entity-proof-v1.json');
  const trust = parseTrust(v.trust.v1);
  const c = v.cases.find((x) => x.name === 'v1-drawn');
  const before = verifyEntityProof(c.proof, trust);
  assert.equal(warmBls(trust.chains), true);
  assert.equal(warmBls([{ ...trust.chains[0], public_key: '00' }]), true);
  assert.deepEqual(verifyEntityProof(c.proof, trust), before);
});
