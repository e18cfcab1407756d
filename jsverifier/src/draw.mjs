// SSJ-DRAW-v1 (SPEC.md section 14), the parts an entity checks its own fate with: the
// length-prefixed fields LP, the reveal commitments (14.4), the seed (14.6), the target
// score and the inspector rank (14.7, 14.8), n_h (14.7), the cut-offs and the RFC 3797
// key string of the lottery numbers (13.2.1). Scores compare as plain byte strings.
import { hmac, sha256 } from '../vendor/noble.mjs';
import { FormatError } from './errors.mjs';
import { compareBytes, concat, toHex, utf8 } from './bytes.mjs';
import { canonicalBytes } from './canonical.mjs';
import { leafHash, rootOfLeafHashes } from './merkle.mjs';

export const ALGORITHM = 'SSJ-DRAW-v1';
const PPM = 1000000n;
const STEP = 'draw';

/** LP(f1, ..., fn): each field's length as 4 bytes big-endian, then its bytes (strings as UTF-8). */
export function lp(...fields) {
  const parts = [];
  for (const f of fields) {
    const data = typeof f === 'string' ? utf8(f) : f;
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, data.length);
    parts.push(len, data);
  }
  return concat(...parts);
}

/** HMAC-SHA256. */
export function hmacSha256(key, message) {
  return hmac(sha256, typeof key === 'string' ? utf8(key) : key, message);
}

/** A party's commitment: hex SHA-256(LP("SSJ-DRAW-v1/reveal", plan_id, batch_id, dept, secret)). */
export function revealCommitment(planId, batchId, dept, secret) {
  return toHex(sha256(lp(`${ALGORITHM}/reveal`, planId, batchId, dept, secret)));
}

/**
 * The seed: HMAC("SSJ-DRAW-v1", LP("SSJ-DRAW-v1", plan_id, batch_id, commit_hash,
 * randomness, lottery_key, dept_1, secret_1, ...)); an unrevealed secret (null) enters
 * as an empty field.
 */
export function drawSeed(planId, batchId, commitHash, beaconRandomness, lotteryKey, reveals) {
  const fields = [ALGORITHM, planId, batchId, commitHash, beaconRandomness, lotteryKey];
  for (const [dept, secret] of reveals) fields.push(dept, secret ?? new Uint8Array(0));
  return hmacSha256(ALGORITHM, lp(...fields));
}

/** A target's score in its stratum: HMAC(seed, LP("T", stratum_id, uscc)). */
export function targetScore(seed, stratum, uscc) {
  return hmacSha256(seed, lp('T', stratum, uscc));
}

/** An inspector's rank for a target: HMAC(seed, LP("I", uscc, dept, cert_no)). */
export function inspectorRank(seed, uscc, dept, certNo) {
  return hmacSha256(seed, lp('I', uscc, dept, certNo));
}

/**
 * n_h for N_h members: 0 when empty, else the plan's rounding (ceil, floor, half_up) of
 * N_h * ratio_ppm / 10^6 in integers, then at least 1 and at most N_h.
 */
export function sampleSize(population, ratioPpm, rounding) {
  const n = BigInt(population);
  if (n <= 0n) return 0;
  const product = n * BigInt(ratioPpm);
  let k;
  if (rounding === 'ceil') k = (product + PPM - 1n) / PPM;
  else if (rounding === 'floor') k = product / PPM;
  else if (rounding === 'half_up') k = (product + PPM / 2n) / PPM;
  else throw new FormatError(STEP, `未知的取整规则 ${JSON.stringify(rounding)}`, `rounding: unknown rule ${JSON.stringify(rounding)}`);
  if (k < 1n) k = 1n;
  if (k > n) k = n;
  return Number(k);
}

/** Ascending (score, uscc): the order of selection and of processing. */
export function compareScored(a, b) {
  return compareBytes(a.score, b.score) || (a.uscc < b.uscc ? -1 : a.uscc > b.uscc ? 1 : 0);
}

/**
 * The selection of SPEC.md 14.7 over pool members [{uscc, stratum}] with n_h per stratum
 * ({stratum: n}): {selected: [{uscc, stratum, score}] in processing order, cutoffs:
 * {stratum: score}} where a stratum's cut-off is its n_h-th smallest score.
 */
export function select(seed, members, sizes) {
  const byStratum = new Map();
  for (const m of members) {
    if (!(sizes[m.stratum] > 0)) continue;
    if (!byStratum.has(m.stratum)) byStratum.set(m.stratum, []);
    byStratum.get(m.stratum).push({ uscc: m.uscc, stratum: m.stratum, score: targetScore(seed, m.stratum, m.uscc) });
  }
  const selected = [];
  const cutoffs = {};
  for (const [stratum, scored] of byStratum) {
    scored.sort(compareScored);
    const best = scored.slice(0, sizes[stratum]);
    cutoffs[stratum] = best[best.length - 1].score;
    selected.push(...best);
  }
  selected.sort(compareScored);
  return { selected, cutoffs };
}

/** Whether a target with `score` is drawn against its stratum's cut-off: at or below it. */
export function drawnBy(score, cutoff) {
  return compareBytes(score, cutoff) <= 0;
}

const POOL_FIELDS = ['industry', 'region', 'registry', 'risk', 'status', 'stratum', 'unit', 'uscc'];

/** A pool member's snapshot leaf (14.3): the canonical JSON of its eight fields. */
export function poolLeaf(member) {
  const leaf = {};
  for (const f of POOL_FIELDS) {
    if (typeof member[f] !== 'string') throw new FormatError(STEP, `池成员缺少字段 ${f}`, `pool member: field ${f} missing or not a string`);
    leaf[f] = member[f];
  }
  return canonicalBytes(leaf, STEP);
}

/** {root: hex, size} of a list of canonical leaves, as the commitment holds it (14.3). */
export function listCommitment(leaves) {
  return { root: toHex(rootOfLeafHashes(leaves.map(leafHash))), size: leaves.length };
}

function lotteryNumber(value, where) {
  const bad = (zh, en) => new FormatError(STEP, `${where}：${zh}`, `${where}: ${en}`);
  let text;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw bad('实数请写成十进制字符串', 'write a real as a decimal string');
    if (value < 0) throw bad(`${value} 是负数`, `${value} is negative`);
    text = String(value);
  } else if (typeof value === 'string') {
    text = value;
  } else {
    throw bad(`${typeof value} 不是数`, `${typeof value} is not a number`);
  }
  const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(text);
  if (!m) throw bad(`${JSON.stringify(value)} 不是 17 或 17.25 这样的十进制数`, `${JSON.stringify(value)} is not a decimal number like 17 or 17.25`);
  const whole = BigInt(m[1]);
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  return { whole, fraction, form: fraction ? `${whole}.${fraction}` : `${whole}.` };
}

function compareNumbers(a, b) {
  if (a.whole !== b.whole) return a.whole < b.whole ? -1 : 1;
  const n = Math.max(a.fraction.length, b.fraction.length);
  const fa = a.fraction.padEnd(n, '0');
  const fb = b.fraction.padEnd(n, '0');
  return fa < fb ? -1 : fa > fb ? 1 : 0;
}

/**
 * The RFC 3797 key string (SPEC.md 13.2.1): per source, in order, its numbers ascending,
 * each an integer's digits and "." or a real's whole "." fraction, then "/".
 */
export function lotteryKeyString(sources) {
  if (!Array.isArray(sources) || sources.length === 0) {
    throw new FormatError(STEP, '开奖号码来源不是非空列表', 'lottery sources: not a non-empty list of lists of numbers');
  }
  let out = '';
  sources.forEach((source, i) => {
    if (!Array.isArray(source) || source.length === 0) {
      throw new FormatError(STEP, `开奖号码来源 ${i} 不是非空列表`, `lottery source ${i}: not a non-empty list of numbers`);
    }
    const numbers = source.map((v, j) => lotteryNumber(v, `lottery source ${i}, value ${j}`));
    numbers.sort(compareNumbers);
    out += numbers.map((n) => n.form).join('') + '/';
  });
  return out;
}
