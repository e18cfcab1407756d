// Timing page for bench/entity_proof.py: the same modules as the verification page
// (src/entityproof.mjs, src/warm.mjs), timed with performance.now() around each check.
// window.bench({proof, trust, runs, warmup}) fetches the proof and the trust policy, then:
// with `warmup`, runs the page's background warm-up first (timed: the first BLS and
// Ed25519 checks, cold) and times the first verification after it (what a user waits after pressing
// verify); without, times the first verification cold. Then `runs` warm verifications,
// and the BLS check of the proof's own beacon alone, warm.
import { fromHex } from '../src/bytes.mjs';
import { parseCanonical } from '../src/canonical.mjs';
import { KNOWN_CHAINS, verifyBeacon } from '../src/drand.mjs';
import { verifyEntityProof } from '../src/entityproof.mjs';
import { parseTrust } from '../src/trust.mjs';
import { warmBls } from '../src/warm.mjs';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function timed(fn) {
  const t = performance.now();
  const value = fn();
  return [performance.now() - t, value];
}

window.bench = async ({ proof, trust, runs = 9, warmup = false }) => {
  const data = new Uint8Array(await (await fetch(proof)).arrayBuffer());
  const policy = parseTrust(await (await fetch(trust)).json());
  const out = { bytes: data.length, warmup_ms: null, warmup_ok: null };
  if (warmup) [out.warmup_ms, out.warmup_ok] = timed(() => warmBls(policy.chains));
  const [first, result] = timed(() => verifyEntityProof(data, policy));
  out.first_ms = first;
  out.exit_code = result.exit_code;
  out.verdict = result.answer?.verdict ?? null;
  const warm = [];
  for (let i = 0; i < runs; i++) warm.push(timed(() => verifyEntityProof(data, policy))[0]);
  out.warm_ms = median(warm);
  const executed = parseCanonical(data).entries.find((e) => e.type === 'draw.executed');
  const b = executed.body.beacon;
  const chain = [...Object.values(KNOWN_CHAINS), ...policy.chains].find((c) => c.chain_hash === b.chain);
  const beacon = { round: b.round, signature: fromHex(b.signature, null, 'bench', 'signature'), previous_signature: b.previous_signature ? fromHex(b.previous_signature, null, 'bench', 'previous') : null };
  const bls = [];
  for (let i = 0; i < runs; i++) {
    const [ms, verdict] = timed(() => verifyBeacon(chain, beacon));
    if (verdict !== 'ok') throw new Error(`the proof's beacon does not verify: ${verdict}`);
    bls.push(ms);
  }
  out.bls_warm_ms = median(bls);
  return out;
};
window.benchReady = true;
