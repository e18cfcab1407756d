// drand beacons (SPEC.md section 13.1): the pinned chains, round arithmetic and the BLS
// checks. A chain's key, scheme and schedule come only from what the page pins, never
// from the proof. Without a working BLS12-381 library a beacon is "unverifiable", never
// "ok" (a verifier that silently stops checking is the failure drand's clients met).
import { bls12_381, sha256 } from '../vendor/noble.mjs';
import { FormatError, TrustError } from './errors.mjs';
import { concat, fromHex, u64be } from './bytes.mjs';

export const OK = 'ok';
export const BAD = 'bad';
export const UNVERIFIABLE = 'unverifiable';
export const SCHEME_CHAINED = 'pedersen-bls-chained';
export const SCHEME_G1_RFC9380 = 'bls-unchained-g1-rfc9380';
export const SCHEME_G1_LEGACY = 'bls-unchained-on-g1';
export const DST_G1 = 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_';
export const DST_G2 = 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_';
const MAX_ROUND = 2n ** 64n - 1n;

const SCHEMES = {
  [SCHEME_CHAINED]: { sigOnG1: false, chained: true, dst: DST_G2 },
  [SCHEME_G1_RFC9380]: { sigOnG1: true, chained: false, dst: DST_G1 },
  // fastnet's mistake, kept for old records: G1 signatures hashed with the G2 DST
  [SCHEME_G1_LEGACY]: { sigOnG1: true, chained: false, dst: DST_G2 },
};

const STEP = 'beacon';

function isInt(v) {
  return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
}

/**
 * A pinned chain {name, chain_hash, scheme, public_key, genesis, period}, checked as the
 * trust policy's beacons are (SPEC.md 13.1.1); FormatError names the member.
 */
export function parseChain(obj) {
  const where = `chain ${JSON.stringify(obj?.name)}`;
  const bad = (zh, en) => new FormatError('trust', `链 ${JSON.stringify(obj?.name)}：${zh}`, `${where}: ${en}`);
  if (obj === null || typeof obj !== 'object') throw new FormatError('trust', '链不是对象', 'chain is not an object');
  if (typeof obj.name !== 'string' || !obj.name) throw new FormatError('trust', '链名不是非空字符串', 'chain name: not a non-empty string');
  const scheme = SCHEMES[obj.scheme];
  if (typeof obj.scheme !== 'string' || !Object.hasOwn(SCHEMES, obj.scheme)) {
    throw bad(`未知方案 ${JSON.stringify(obj.scheme)}`, `unknown scheme ${JSON.stringify(obj.scheme)}, expected one of ${Object.keys(SCHEMES).join(', ')}`);
  }
  fromHex(obj.chain_hash, 32, 'trust', `${where}: chain_hash`);
  fromHex(obj.public_key, scheme.sigOnG1 ? 96 : 48, 'trust', `${where}: public_key`);
  if (!isInt(obj.genesis) || obj.genesis < 0) throw bad('genesis 不是非负整数', 'genesis is not a non-negative integer');
  if (!isInt(obj.period) || obj.period < 1) throw bad('period 不是正整数', 'period is not a positive integer');
  const { name, chain_hash, public_key, genesis, period } = obj;
  return Object.freeze({ name, chain_hash, scheme: obj.scheme, public_key, genesis: BigInt(genesis), period: BigInt(period) });
}

export const KNOWN_CHAINS = Object.freeze({
  'loe-default': parseChain({
    name: 'loe-default', chain_hash: '8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce',
    scheme: SCHEME_CHAINED, genesis: 1595431050, period: 30,
    public_key: '868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c7293784a9402801af31',
  }),
  'loe-quicknet': parseChain({
    name: 'loe-quicknet', chain_hash: '52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971',
    scheme: SCHEME_G1_RFC9380, genesis: 1692803367, period: 3,
    public_key: '83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a',
  }),
});

function round(r) {
  if (!isInt(r) || BigInt(r) < 1n || BigInt(r) > MAX_ROUND) {
    throw new FormatError(STEP, `轮次 ${r} 不是 1..2^64-1 的整数`, `round ${r}: not an integer in 1..2^64-1`);
  }
  return BigInt(r);
}

/** Unix time (BigInt) at which a round is due: genesis + (round - 1) * period. */
export function roundTime(chain, r) {
  return chain.genesis + (round(r) - 1n) * chain.period;
}

/**
 * The first round due at or after unix time `t` (1 for any t up to genesis): the ceiling,
 * not drand's "current round", which is already published at t between two round times.
 */
export function roundAt(chain, t) {
  if (!isInt(t)) throw new FormatError(STEP, `时间 ${t} 不是整数（Unix 秒）`, `time ${t}: not an integer (unix seconds)`);
  const T = BigInt(t);
  if (T <= chain.genesis) return 1n;
  const d = T - chain.genesis;
  return (d + chain.period - 1n) / chain.period + 1n;
}

/** drand's randomness: SHA-256 of the raw signature bytes. */
export function randomness(signature) {
  return sha256(signature);
}

/** The 32 bytes a round signs: SHA-256(prev || u64be(round)) chained, SHA-256(u64be(round)) otherwise. */
export function beaconMessage(scheme, beacon) {
  const s = SCHEMES[scheme];
  const r = round(beacon.round);
  if (s.chained) {
    if (!beacon.previous_signature) {
      throw new FormatError(STEP, `轮次 ${r}：链式方案需要 previous_signature`, `beacon round ${r}: the chained scheme needs previous_signature`);
    }
    return sha256(concat(beacon.previous_signature, u64be(r)));
  }
  return sha256(u64be(r));
}

const keyCache = new Map(); // the pinned key's decompression and subgroup check, once per key

function publicKey(chain, onG1) {
  const cached = keyCache.get(chain.public_key);
  if (cached) return cached;
  let point;
  try {
    point = (onG1 ? bls12_381.G1 : bls12_381.G2).Point.fromBytes(fromHex(chain.public_key, null, 'trust', 'public_key'));
  } catch (err) {
    if (err instanceof TrustError) throw err;
    throw new TrustError('trust', `链 ${chain.name} 的公钥无法解码：${err.message}`, `chain ${chain.name}: public key does not decode: ${err.message}`);
  }
  if (point.is0()) throw new TrustError('trust', `链 ${chain.name} 的公钥是无穷远点`, `chain ${chain.name}: public key is the identity point`);
  keyCache.set(chain.public_key, point);
  return point;
}

/**
 * OK when the beacon {round, signature, previous_signature} (bytes; previous_signature
 * null for the unchained schemes) is the chain's signature of its round, BAD otherwise.
 * Checks in SPEC.md 13.1.4's order: the round range, the signature's size, the presence
 * of previous_signature exactly for the chained scheme, the signature a non-identity
 * subgroup point, then one pairing product. TrustError when the pinned key is unusable.
 */
export function verifyBeacon(chain, beacon) {
  const s = SCHEMES[chain.scheme];
  if (!isInt(beacon.round) || BigInt(beacon.round) < 1n || BigInt(beacon.round) > MAX_ROUND) return BAD;
  if (!(beacon.signature instanceof Uint8Array) || beacon.signature.length !== (s.sigOnG1 ? 48 : 96)) return BAD;
  if (s.chained !== (beacon.previous_signature != null)) return BAD;
  const message = beaconMessage(chain.scheme, beacon);
  const pk = publicKey(chain, !s.sigOnG1);
  const mode = s.sigOnG1 ? bls12_381.shortSignatures : bls12_381.longSignatures;
  let sig;
  try {
    sig = (s.sigOnG1 ? bls12_381.G1 : bls12_381.G2).Point.fromBytes(beacon.signature);
  } catch {
    return BAD;
  }
  if (sig.is0()) return BAD;
  try {
    const hm = mode.hash(message, s.dst);
    if (s.sigOnG1) return verifyShort(chain, pk, sig, hm) ? OK : BAD;
    return mode.verify(sig, hm, pk) ? OK : BAD;
  } catch {
    return BAD;
  }
}

// The pairing's line coefficients for the two fixed G2 points of a signature on G1 (the
// negated chain key and the generator), computed once per key: noble's verify recomputes
// them and re-checks both points' subgroup membership at every call, which is most of a
// first check's cost. The points were checked when decoded (publicKey, fromBytes) and the
// message point comes from hash-to-curve, so the product below is the one noble's
// shortSignatures.verify computes: e(H(m), -pk) * e(sig, G2) == 1.
const pairingCache = new Map();
let generatorLines = null;

function verifyShort(chain, pk, sig, hm) {
  const { G2, fields, millerLoopBatch, utils } = bls12_381;
  let keyLines = pairingCache.get(chain.public_key);
  if (!keyLines) {
    keyLines = utils.calcPairingPrecomputes(pk.negate());
    pairingCache.set(chain.public_key, keyLines);
  }
  generatorLines ??= utils.calcPairingPrecomputes(G2.Point.BASE);
  if (hm.is0()) return false;
  const h = hm.toAffine();
  const g = sig.toAffine();
  return fields.Fp12.eql(millerLoopBatch([[keyLines, h.x, h.y], [generatorLines, g.x, g.y]], true), fields.Fp12.ONE);
}

/** The chain pinned under a chain hash (from KNOWN_CHAINS and the extra pinned ones), or null. */
export function chainByHash(hash, extra = []) {
  for (const c of [...Object.values(KNOWN_CHAINS), ...extra]) if (c.chain_hash === hash) return c;
  return null;
}
