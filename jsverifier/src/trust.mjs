// The trust policy (SPEC.md section 8, trust.json): the pinned origin, log key, authority
// keys, witnesses, quorum and extra beacon chains, checked member by member as the Python
// verifier's parse_trust does. Nothing here is ever taken from the data being verified.
import { FormatError } from './errors.mjs';
import { parseJSON } from './canonical.mjs';
import { parseVkey } from './note.mjs';
import { parseChain } from './drand.mjs';

const STEP = 'trust';

function vkey(value, where) {
  if (typeof value !== 'string') throw new FormatError(STEP, `${where} 不是 vkey 字符串`, `${where}: not a vkey string`);
  try {
    return parseVkey(value, STEP);
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError(STEP, `${where}：${err.zh}`, `${where}: ${err.en}`);
    throw err;
  }
}

/** {origin, logKey, authorityKeys, witnesses, quorum, chains, beacons (as written)} from the trust.json object. */
export function parseTrust(obj) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new FormatError(STEP, '信任策略不是 JSON 对象', 'trust: not a JSON object');
  if (obj.version !== 1) throw new FormatError(STEP, 'trust.version 必须为 1', 'trust.version: must be 1');
  if (typeof obj.origin !== 'string' || !obj.origin) throw new FormatError(STEP, 'trust.origin 不是非空字符串', 'trust.origin: not a non-empty string');
  const logKey = vkey(obj.log_key, 'trust.log_key');
  if (!Array.isArray(obj.authority_keys) || obj.authority_keys.length === 0) {
    throw new FormatError(STEP, 'trust.authority_keys 不是非空列表', 'trust.authority_keys: not a non-empty list');
  }
  const authorityKeys = obj.authority_keys.map((k, i) => vkey(k, `trust.authority_keys[${i}]`));
  const wit = obj.witnesses ?? [];
  if (!Array.isArray(wit)) throw new FormatError(STEP, 'trust.witnesses 不是列表', 'trust.witnesses: not a list');
  const witnesses = wit.map((k, i) => vkey(k, `trust.witnesses[${i}]`));
  const quorum = obj.quorum ?? 0;
  if (!Number.isInteger(quorum) || quorum < 0 || quorum > witnesses.length) {
    throw new FormatError(STEP, `trust.quorum 不是 0 到 ${witnesses.length} 之间的整数`, `trust.quorum: not an integer between 0 and ${witnesses.length}`);
  }
  const beacons = obj.beacons ?? [];
  if (!Array.isArray(beacons)) throw new FormatError(STEP, 'trust.beacons 不是列表', 'trust.beacons: not a list');
  const chains = beacons.map((b, i) => {
    try {
      return parseChain(b);
    } catch (err) {
      if (err instanceof FormatError) throw new FormatError(STEP, `trust.beacons[${i}]：${err.zh}`, `trust.beacons[${i}]: ${err.en}`);
      throw err;
    }
  });
  return { origin: obj.origin, logKey, authorityKeys, witnesses, quorum, chains, beacons };
}

/** parseTrust over trust.json bytes or text (need not be canonical; the profile's bounds hold). */
export function loadTrust(data) {
  try {
    return parseTrust(parseJSON(data, STEP));
  } catch (err) {
    if (err instanceof FormatError && !err.en.startsWith('trust')) {
      throw new FormatError(STEP, `trust.json：${err.zh}`, `trust.json: ${err.en}`);
    }
    throw err;
  }
}
