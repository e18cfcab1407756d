import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTrust, parseTrust } from '../src/trust.mjs';
import { FormatError } from '../src/errors.mjs';
import { vector } from '../testutil.mjs';

const k = vector('entry-v1.json').keys;
const good = {
  version: 1, origin: k.log.name, log_key: k.log.vkey, authority_keys: [k.authority.vkey],
  witnesses: [k.witness.vkey], quorum: 1,
  beacons: [{ name: 'dev', chain_hash: '11'.repeat(32), scheme: 'bls-unchained-g1-rfc9380', public_key: 'aa'.repeat(96), genesis: 0, period: 3 }],
};

test('trust.json (SPEC 8): keys, witnesses, quorum and extra chains', () => {
  const t = loadTrust(JSON.stringify(good, null, 2));
  assert.equal(t.origin, k.log.name);
  assert.equal(t.logKey.name, k.log.name);
  assert.equal(t.witnesses[0].sigtype, 4);
  assert.equal(t.quorum, 1);
  assert.equal(t.chains[0].period, 3n);
  assert.equal(parseTrust({ ...good, witnesses: undefined, quorum: undefined, beacons: undefined }).quorum, 0);
});

test('a bad trust.json is refused naming the member', () => {
  const cases = [
    [{ ...good, version: 2 }, /trust.version/], [{ ...good, origin: '' }, /trust.origin/],
    [{ ...good, log_key: 'x' }, /trust.log_key/], [{ ...good, authority_keys: [] }, /trust.authority_keys/],
    [{ ...good, authority_keys: [k.authority.vkey.replace('+3e', '+3f')] }, /trust.authority_keys\[0\]/],
    [{ ...good, witnesses: 'x' }, /trust.witnesses/], [{ ...good, quorum: 2 }, /trust.quorum/],
    [{ ...good, beacons: [{ ...good.beacons[0], period: 0 }] }, /trust.beacons\[0\]/],
  ];
  for (const [obj, expected] of cases) assert.throws(() => parseTrust(obj), expected, JSON.stringify(obj).slice(0, 60));
  assert.throws(() => loadTrust('{"version":1.0}'), (err) => err instanceof FormatError && /trust.json/.test(err.en));
  assert.throws(() => loadTrust('[1'), FormatError);
});
