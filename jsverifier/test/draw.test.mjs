import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  drawnBy, drawSeed, inspectorRank, listCommitment, lotteryKeyString, lp, poolLeaf, revealCommitment,
  sampleSize, select, targetScore,
} from '../src/draw.mjs';
import { canonicalBytes } from '../src/canonical.mjs';
import { FormatError } from '../src/errors.mjs';
import { toHex } from '../src/bytes.mjs';
import { hex, vector } from '../testutil.mjs';

const v = vector('draw-v1.json');
const { inputs, batch, snapshot, expected } = v;
const seedOf = (reveals) => drawSeed(inputs.plan_id, inputs.batch_id, hex(inputs.commit_hash), hex(inputs.beacon.randomness),
  inputs.lottery.key_string, reveals);
const seed = seedOf(inputs.parties.map((p) => [p.dept, hex(p.secret)]));
const text = (b) => new TextDecoder().decode(b);

test('LP is length-prefixed, so no two field lists share an encoding', () => {
  assert.equal(toHex(lp('ab', Uint8Array.of(1))), '0000000261620000000101');
  assert.notEqual(toHex(lp('a', 'b')), toHex(lp('ab', '')));
  assert.equal(toHex(lp('淄')), '00000003e6b784');
});

test('commitments, the seed and the seed with a party unrevealed (14.4-14.6)', () => {
  for (const p of inputs.parties) assert.equal(revealCommitment(inputs.plan_id, inputs.batch_id, p.dept, hex(p.secret)), p.commitment);
  assert.equal(lotteryKeyString(inputs.lottery.numbers), inputs.lottery.key_string);
  assert.equal(toHex(seed), expected.seed);
  assert.equal(toHex(seed), expected.outcome.seed);
  const unrevealed = seedOf(inputs.parties.map((p) => [p.dept, p.dept === 'ZC-SWJ' ? null : hex(p.secret)]));
  assert.equal(toHex(unrevealed), expected['seed_if_ZC-SWJ_unrevealed']);
});

test('every score, n_h, the selection in processing order and the cut-offs (14.7)', () => {
  assert.equal(expected.scores.length, snapshot.pool.length);
  for (const s of expected.scores) assert.equal(toHex(targetScore(seed, s.stratum, s.uscc)), s.score, s.uscc);
  const counts = {};
  for (const m of snapshot.pool) counts[m.stratum] = (counts[m.stratum] ?? 0) + 1;
  assert.deepEqual(counts, expected.commitment.pool.strata);
  const sizes = Object.fromEntries(batch.strata.map((s) => [s.id, sampleSize(counts[s.id] ?? 0, s.ratio_ppm, batch.rounding)]));
  assert.deepEqual(sizes, expected.commitment.pool.sample);
  const { selected, cutoffs } = select(seed, snapshot.pool, sizes);
  assert.deepEqual(selected.map((s) => [s.uscc, s.stratum, toHex(s.score)]),
    expected.outcome.selected.map((s) => [s.uscc, s.stratum, s.score]));
  assert.deepEqual(Object.fromEntries(Object.entries(cutoffs).map(([k, c]) => [k, toHex(c)])), expected.outcome.cutoffs);
  // an entity's own check: drawn exactly when its score is at or below its stratum's cut-off
  const chosen = new Set(selected.map((s) => s.uscc));
  for (const m of snapshot.pool) {
    assert.equal(drawnBy(targetScore(seed, m.stratum, m.uscc), hex(expected.outcome.cutoffs[m.stratum])), chosen.has(m.uscc), m.uscc);
  }
});

test('the snapshot leaves and list commitments (14.3)', () => {
  const byUscc = (a, b) => (a.uscc < b.uscc ? -1 : a.uscc > b.uscc ? 1 : 0);
  const pool = [...snapshot.pool].sort(byUscc).map(poolLeaf);
  assert.equal(text(pool[0]), expected.first_leaves.pool);
  assert.deepEqual(listCommitment(pool), { root: expected.commitment.pool.root, size: expected.commitment.pool.size });
  const roster = [...snapshot.roster].sort((a, b) => (a.dept + '\n' + a.cert_no < b.dept + '\n' + b.cert_no ? -1 : 1)).map((r) => canonicalBytes(r));
  assert.equal(text(roster[0]), expected.first_leaves.roster);
  assert.deepEqual(listCommitment(roster), expected.commitment.roster);
  const conflicts = [...snapshot.conflicts].sort((a, b) => (a.cert_no + '\n' + a.uscc < b.cert_no + '\n' + b.uscc ? -1 : 1)).map((c) => canonicalBytes(c));
  assert.equal(text(conflicts[0]), expected.first_leaves.conflicts);
  assert.deepEqual(listCommitment(conflicts), expected.commitment.conflicts);
  const excluded = [...snapshot.excluded].sort().map((uscc) => canonicalBytes({ uscc }));
  assert.equal(text(excluded[0]), expected.first_leaves.excluded);
  assert.deepEqual(listCommitment(excluded), expected.commitment.excluded);
  assert.throws(() => poolLeaf({ uscc: 'x' }), FormatError);
});

test('every inspector rank of the ranks vector (14.8)', () => {
  let n = 0;
  for (const r of expected.ranks) {
    for (const [certNo, rank] of r.ranking) {
      assert.equal(toHex(inspectorRank(seed, r.uscc, r.dept, certNo)), rank);
      n++;
    }
    const sorted = [...r.ranking].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[0] < b[0] ? -1 : 1));
    assert.deepEqual(sorted, r.ranking, 'ranking is ascending');
  }
  assert.ok(n > 50);
});

test('n_h rounding rules in integer arithmetic', () => {
  assert.equal(sampleSize(0, 1000000, 'ceil'), 0);
  assert.equal(sampleSize(10, 1, 'floor'), 1); // at least 1
  assert.equal(sampleSize(10, 1000000, 'ceil'), 10);
  assert.equal(sampleSize(7, 500000, 'ceil'), 4);
  assert.equal(sampleSize(7, 500000, 'floor'), 3);
  assert.equal(sampleSize(7, 500000, 'half_up'), 4);
  assert.equal(sampleSize(1000000, 312500, 'half_up'), 312500);
  assert.equal(sampleSize(3, 166667, 'half_up'), 1);
  assert.equal(sampleSize(9, 166667, 'half_up'), 2);
  assert.equal(sampleSize(2 ** 40, 999999, 'ceil'), 1099510528265); // Python's sample_size agrees
  assert.throws(() => sampleSize(5, 1, 'round'), FormatError);
});

test('the RFC 3797 key string (13.2.1), rfc3797.json and SPEC examples', () => {
  const r = vector('rfc3797.json');
  assert.equal(lotteryKeyString(r.sources), r.key_string);
  assert.equal(lotteryKeyString([['1.25'], [5, 3], [8]]), '1.25/3.5./8./');
  assert.equal(lotteryKeyString([['17.50', '17.0', 2]]), '2.17.17.5/');
  for (const bad of [[], [[]], [[-1]], [[1.5]], [['1e3']], [[true]], 'x']) assert.throws(() => lotteryKeyString(bad), FormatError, JSON.stringify(bad));
});
