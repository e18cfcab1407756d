// Receipts (SPEC.md section 18): the log's signed promise that a submission became
// entries first..last, checked offline against the pinned log key and origin (18.2), in
// the Python verifier's order, so both refuse a receipt at the same step.
import { FormatError, IntegrityError } from './errors.mjs';
import { asBytes, equalBytes, fromHex, toHex, utf8 } from './bytes.mjs';
import { parseCanonical } from './canonical.mjs';
import { parseEntry } from './entry.mjs';
import { parseNote, verifyNote } from './note.mjs';
import { parseTlogProof, verifyTlogProof } from './tlogproof.mjs';

export const RECEIPT_FORMAT = 'drawledger/receipt/v1';
export const PROMISE_HEADER = 'drawledger/promise/v1';
const MEMBERS = ['due', 'entry', 'first', 'format', 'last', 'origin', 'promise', 'proof'];
const DUE_MEMBERS = ['ended_on', 'publish_by', 'publish_days', 'record_by', 'record_days'];
const DEC = '(0|[1-9][0-9]{0,15})';
const PROMISE = new RegExp(`^drawledger/promise/v1\\norigin ([^\\n]+)\\nfirst ${DEC}\\nlast ${DEC}\\n` +
  'hash ([0-9a-f]{64})\\ntime ([0-9T:.+-]{32})\\n$');
const STEP = 'receipt';

/** The promise's six lines (18.1), final newline included. */
export function promiseText(origin, first, last, entryHash, time) {
  return `${PROMISE_HEADER}\norigin ${origin}\nfirst ${first}\nlast ${last}\nhash ${toHex(entryHash)}\ntime ${time}\n`;
}

/** Parse a promise's note text strictly: {origin, first, last, hash, time}. */
export function parsePromise(text) {
  const m = PROMISE.exec(text);
  if (!m) throw new FormatError(STEP, `承诺不是 ${PROMISE_HEADER} 的六行`, `promise: not the six lines of ${PROMISE_HEADER}`);
  const first = Number(m[2]);
  const last = Number(m[3]);
  if (first > last) throw new FormatError(STEP, `承诺的 first ${first} 在 last ${last} 之后`, `promise: first ${first} is after last ${last}`);
  return { origin: m[1], first, last, hash: fromHex(m[4], 32, STEP, 'hash'), time: m[5] };
}

function member(obj, name, kind) {
  const v = obj[name];
  const ok = kind === 'int' ? Number.isInteger(v) : typeof v === kind;
  if (!ok) throw new FormatError(STEP, `receipt.${name} 类型不对`, `receipt.${name}: not a ${kind === 'int' ? 'int' : 'str'}`);
  return v;
}

function within(prefix, fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError(STEP, `${prefix}：${err.zh}`, `${prefix}: ${err.en}`);
    throw err;
  }
}

/**
 * Check a receipt (its bytes, or the parsed object) against trust {origin, logKey, witnesses}: {promise, entry,
 * proved, due}. FormatError names the member; SignatureError when the log key did not
 * sign the promise; IntegrityError when the entry is not the promised one; ProofError
 * when an attached proof fails.
 */
export function verifyReceipt(data, trust) {
  const obj = typeof data === 'string' || data instanceof Uint8Array ? parseCanonical(asBytes(data), STEP) : data;
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || Object.keys(obj).sort().join() !== MEMBERS.join()) {
    throw new FormatError(STEP, `回执必须是恰有 ${MEMBERS.join('、')} 的对象`, `receipt: must be an object with exactly ${MEMBERS.join(', ')}`);
  }
  if (obj.format !== RECEIPT_FORMAT) throw new FormatError(STEP, `receipt.format 不是 ${RECEIPT_FORMAT}`, `receipt.format: not ${RECEIPT_FORMAT}`);
  const origin = member(obj, 'origin', 'string');
  const first = member(obj, 'first', 'int');
  const last = member(obj, 'last', 'int');
  if (origin !== trust.origin) {
    throw new IntegrityError(STEP, `receipt.origin ${JSON.stringify(origin)} 不是固定的来源 ${JSON.stringify(trust.origin)}`,
      `receipt.origin ${JSON.stringify(origin)} is not the pinned origin ${JSON.stringify(trust.origin)}`);
  }
  const note = within('receipt.promise', () => parseNote(member(obj, 'promise', 'string'), STEP));
  verifyNote(note, [trust.logKey], STEP);
  const promise = parsePromise(note.text);
  if (promise.origin !== origin || promise.first !== first || promise.last !== last) {
    throw new IntegrityError(STEP, '回执的 origin、first 或 last 与签名的承诺不同', 'receipt: origin, first or last differ from the signed promise');
  }
  const entry = within('receipt.entry', () => parseEntry(utf8(member(obj, 'entry', 'string')), STEP));
  if (entry.seq !== last) {
    throw new IntegrityError(STEP, `receipt.entry 是条目 ${entry.seq}，承诺的是 ${last}`, `receipt.entry is entry ${entry.seq}, the promise names ${last}`);
  }
  if (!equalBytes(entry.hash, promise.hash) || entry.time !== promise.time) {
    throw new IntegrityError(STEP, 'receipt.entry 的哈希（或时间）与承诺不符', 'receipt.entry does not hash to the promised entry hash (or has another time)');
  }
  let proved = false;
  if (obj.proof !== null) {
    const proof = within('receipt.proof', () => parseTlogProof(member(obj, 'proof', 'string'), STEP));
    if (proof.index !== BigInt(last)) {
      throw new IntegrityError(STEP, `receipt.proof 证明的是条目 ${proof.index}，不是 ${last}`, `receipt.proof is for entry ${proof.index}, not ${last}`);
    }
    verifyTlogProof(proof, entry.hash, trust.logKey, trust.origin, trust.witnesses ?? [], STEP);
    proved = true;
  }
  const due = obj.due;
  if (due !== null && (typeof due !== 'object' || Array.isArray(due) || Object.keys(due).sort().join() !== DUE_MEMBERS.join())) {
    throw new FormatError(STEP, `receipt.due 应为 null 或恰有 ${DUE_MEMBERS.join('、')} 的对象`, `receipt.due: null or an object with exactly ${DUE_MEMBERS.join(', ')}`);
  }
  return { promise, entry, proved, due };
}


