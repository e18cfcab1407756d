import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotAnEntityProof, STEPS, verifyEntityProof } from '../src/entityproof.mjs';
import { parseTrust } from '../src/trust.mjs';
import { bytes, vector } from '../testutil.mjs';

const v = vector('entity-proof-v1.json');
const byName = Object.fromEntries(v.cases.map((c) => [c.name, c]));

function text(c) {
  if (c.oversize_of === undefined) return bytes(c.proof);
  const base = bytes(byName[c.oversize_of].proof);
  const out = new Uint8Array(v.max_bytes + 1).fill(0x20);
  out.set(base);
  return out;
}

test('every entity-proof-v1.json case: exit code, verdict and the failing step', () => {
  assert.equal(v.cases.length, 28);
  for (const c of v.cases) {
    const r = verifyEntityProof(text(c), c.pinned ? parseTrust(v.trust[c.log]) : null);
    const failed = r.steps.find((s) => !s.ok);
    assert.deepEqual({ exit_code: r.exit_code, verdict: r.answer?.verdict ?? null, step: failed?.step ?? null }, c.expect, c.name);
    assert.deepEqual(r.steps.map((s) => s.step), STEPS.slice(0, r.steps.length), `${c.name}: steps in order`);
    for (const s of r.steps) assert.ok(s.zh.includes(s.ok ? '通过' : '失败') && s.en.length > 0, c.name);
  }
});

test('a passing proof answers with the score against the cut-off and the team', () => {
  const c = byName['v1-drawn'];
  const r = verifyEntityProof(c.proof, parseTrust(v.trust.v1));
  assert.equal(r.exit_code, 0);
  assert.equal(r.trust_source, 'pinned');
  assert.equal(r.steps.length, 11);
  const [cand] = r.answer.candidates;
  assert.equal(cand.drawn, true);
  assert.ok(cand.score <= cand.cutoff);
  assert.equal(r.answer.drawn, true);
  assert.ok(Array.isArray(r.answer.team) && r.answer.team.length > 0);
  const not = verifyEntityProof(byName['v1-not_drawn'].proof, parseTrust(v.trust.v1)).answer.candidates[0];
  assert.ok(not.score > not.cutoff && !not.drawn);
  const v2 = verifyEntityProof(byName['v2-drawn'].proof, parseTrust(v.trust.v2)).answer;
  assert.ok(v2.candidates.length > 1 && new Set(v2.candidates.map((x) => x.drawn)).size === 2);
});

test('another draw named by the caller, another log\'s trust, a file that is no proof', () => {
  const c = byName['v1-drawn'];
  const r = verifyEntityProof(c.proof, parseTrust(v.trust.v1), { expectDraw: 'x/y' });
  assert.equal(r.exit_code, 2);
  assert.match(r.steps[0].en, /not x\/y/);
  const other = verifyEntityProof(c.proof, parseTrust(v.trust.v2));
  assert.equal(other.exit_code, 2);
  assert.equal(other.steps.find((s) => !s.ok).step, 'proofs');
  assert.throws(() => verifyEntityProof('{"a":1}'), NotAnEntityProof);
  assert.equal(verifyEntityProof('"drawledger/entity-proof/v1"').steps[0].step, 'format');
});
