// How long the browser verifier's BLS check of a quicknet round takes under node:
//   node jsverifier/bench.mjs [ROUNDS]
// Prints the first verification in a fresh process (JIT cold, the pinned key decompressed
// and subgroup-checked), then the median and p90 of ROUNDS more (key cached, as on a page
// that checks one proof after another), and the parts of one warm check.
import { bls12_381, sha256 } from './vendor/noble.mjs';
import { KNOWN_CHAINS, verifyBeacon } from './src/drand.mjs';
import { fromHex, u64be } from './src/bytes.mjs';

const rounds = Number(process.argv[2] ?? 30);
const chain = KNOWN_CHAINS['loe-quicknet'];
const sig = fromHex('b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b', 48, 'bench', 'sig');
const beacon = { round: 657413, signature: sig, previous_signature: null };

const time = (fn) => {
  const t = performance.now();
  const out = fn();
  return [performance.now() - t, out];
};
const [cold, verdict] = time(() => verifyBeacon(chain, beacon));
if (verdict !== 'ok') throw new Error(`quicknet round 657413 did not verify: ${verdict}`);
const warm = [];
for (let i = 0; i < rounds; i++) warm.push(time(() => verifyBeacon(chain, beacon))[0]);
warm.sort((a, b) => a - b);
const q = (p) => warm[Math.min(warm.length - 1, Math.floor(p * warm.length))].toFixed(1);

const m = sha256(u64be(657413n));
const parts = {
  'key decode + subgroup': time(() => bls12_381.G2.Point.fromBytes(fromHex(chain.public_key, 96, 'b', 'k')))[0],
  'signature decode + subgroup': time(() => bls12_381.G1.Point.fromBytes(sig))[0],
  'hash to G1': time(() => bls12_381.shortSignatures.hash(m, 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_'))[0],
};
const pk = bls12_381.G2.Point.fromBytes(fromHex(chain.public_key, 96, 'b', 'k'));
const S = bls12_381.G1.Point.fromBytes(sig);
const H = bls12_381.shortSignatures.hash(m, 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_');
parts['pairing product'] = time(() => bls12_381.shortSignatures.verify(S, H, pk))[0];

console.log(`node ${process.version}, quicknet round 657413 (bls-unchained-g1-rfc9380)`);
console.log(`first verify (cold, key decoded): ${cold.toFixed(1)} ms`);
console.log(`warm verify over ${rounds}: median ${q(0.5)} ms, p90 ${q(0.9)} ms`);
for (const [k, v] of Object.entries(parts)) console.log(`  ${k}: ${v.toFixed(1)} ms`);
