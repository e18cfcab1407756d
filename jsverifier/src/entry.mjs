// Log entries and statements (SPEC.md sections 3 and 4): the nine fields, the entry hash
// SHA-256(0x00 || entry), the chain links, the statement bytes a party signs, the Ed25519
// statement signature and the batch signature of 4.2 (one signature over many members).
import { sha256 } from '../vendor/noble.mjs';
import { FormatError, IntegrityError, SignatureError } from './errors.mjs';
import { asBytes, concat, fromBase64, toHex, utf8 } from './bytes.mjs';
import { encode, parseCanonical } from './canonical.mjs';
import { leafHash } from './merkle.mjs';
import { ed25519Verify } from './note.mjs';

export const ENTRY_FIELDS = ['actor', 'body', 'prev', 'seq', 'sig', 'stream', 'time', 'type', 'version'];
export const SIG_FIELDS = ['ctime', 'key', 'sid', 'value'];
export const STATEMENT_PREFIX = 'drawledger/statement/v1\n';
export const BATCH_PREFIX = 'drawledger/batch/v1\n';
export const GENESIS_PREV = '0'.repeat(64);
export const MAX_ENTRY_BYTES = 1 << 20;

const TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+08:00$/;
const CTIME = /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$/;
const TYPE = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/;
const HEX64 = /^[0-9a-f]{64}$/;
const SIG_VALUE = /^[A-Za-z0-9+/]{85}[AQgw]==$/; // 64 bytes: 86 digits, the last with 4 zero bits
const BATCH_SID = /^batch\/([^/]+)\/(0|[1-9][0-9]{0,17})\/(0|[1-9][0-9]{0,17})$/;

/** Whether a ctime is in SPEC.md section 4's grammar and names a real Gregorian day. */
export function ctimeValid(ctime) {
  if (typeof ctime !== 'string' || !CTIME.test(ctime)) return false;
  const year = Number(ctime.slice(0, 4));
  const month = Number(ctime.slice(5, 7));
  const day = Number(ctime.slice(8, 10));
  if (year < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return day <= days;
}

function isInt(v) {
  return typeof v === 'number' && Number.isInteger(v);
}

function field(step, name, zh, en) {
  return new FormatError(step, `字段 ${name}：${zh}`, `field ${name}: ${en}`);
}

/** Validate an entry's or a submission's `sig` object; FormatError names the member. */
export function checkSig(sig, step = 'entry') {
  if (sig === null || typeof sig !== 'object' || Array.isArray(sig) ||
      Object.keys(sig).sort().join() !== SIG_FIELDS.join()) {
    throw field(step, 'sig', `必须是恰有 ${SIG_FIELDS.join('、')} 的对象`, `must be an object with exactly ${JSON.stringify(SIG_FIELDS)}`);
  }
  for (const name of SIG_FIELDS) {
    if (typeof sig[name] !== 'string' || !sig[name]) throw field(step, `sig.${name}`, '不是非空字符串', 'not a non-empty string');
  }
  if (!ctimeValid(sig.ctime)) {
    throw field(step, 'sig.ctime', '不是真实时间 YYYY-MM-DDThh:mm:ss[.ffffff]，带 Z 或 +hh:mm/-hh:mm（SPEC.md 第 4 节）',
      'not a real time YYYY-MM-DDThh:mm:ss[.ffffff] with Z or +hh:mm/-hh:mm (SPEC.md section 4)');
  }
  if (!SIG_VALUE.test(sig.value)) {
    throw field(step, 'sig.value', '不是 64 字节 Ed25519 签名的带填充 base64', 'not the padded base64 of a 64-byte Ed25519 signature');
  }
  return sig;
}

/**
 * Parse one entry's bytes (or text), enforcing the canonical profile and every field:
 * {seq, prev, time, stream, version, type, actor, body, sig, raw, hash}. FormatError (or
 * CanonicalError) names the field at fault.
 */
export function parseEntry(data, step = 'entry') {
  const raw = asBytes(data);
  if (raw.length > MAX_ENTRY_BYTES) {
    throw new FormatError(step, `条目为 ${raw.length} 字节，超过 ${MAX_ENTRY_BYTES} 字节上限`,
      `entry is ${raw.length} bytes, over the ${MAX_ENTRY_BYTES}-byte limit`);
  }
  // The members are checked before the canonical form (key order), as in verifier._entry.
  const obj = parseCanonical(raw, step, (value) => entryShape(value, step));
  const { seq, prev, time, stream, version, type, actor, body, sig } = obj;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw field(step, 'body', '不是 JSON 对象', 'not a JSON object');
  if (!isInt(seq) || seq < 0) throw field(step, 'seq', '不是非负整数', 'not a non-negative integer');
  if (!isInt(version) || version < 1) throw field(step, 'version', '不是正整数', 'not a positive integer');
  for (const [name, v] of [['stream', stream], ['actor', actor]]) {
    if (typeof v !== 'string' || !v || [...v].length > 256) { // code points, as Python's len
      throw field(step, name, '不是长度 1 到 256 的字符串', 'not a non-empty string of at most 256 characters');
    }
  }
  if (typeof prev !== 'string' || !HEX64.test(prev)) throw field(step, 'prev', '不是 64 位小写十六进制', 'not 64 lowercase hex digits');
  if (typeof time !== 'string' || !TIME.test(time)) throw field(step, 'time', '不是 YYYY-MM-DDThh:mm:ss.ffffff+08:00', 'not YYYY-MM-DDThh:mm:ss.ffffff+08:00');
  if (typeof type !== 'string' || !TYPE.test(type)) throw field(step, 'type', '不是点分小写事件类型', 'not a dotted lowercase event type');
  checkSig(sig, step);
  return { seq, prev, time, stream, version, type, actor, body, sig, raw, hash: leafHash(raw) };
}

/** An entry is an object with exactly the entry fields (in any order: the canonical check
 *  that follows fixes the order). */
function entryShape(obj, step) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new FormatError(step, '条目不是 JSON 对象', 'entry is not a JSON object');
  }
  const keys = Object.keys(obj);
  if ([...keys].sort().join() !== [...ENTRY_FIELDS].sort().join()) {
    const missing = ENTRY_FIELDS.filter((k) => !keys.includes(k)).sort();
    const extra = keys.filter((k) => !ENTRY_FIELDS.includes(k)).sort();
    throw new FormatError(step, `条目字段不对：缺少 ${JSON.stringify(missing)}，多出 ${JSON.stringify(extra)}`,
      `entry fields wrong: missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)}`);
  }
}

/** SHA-256(0x00 || entry bytes): the entry hash, also its Merkle leaf. */
export function entryHash(data) {
  return leafHash(asBytes(data));
}

/** The bytes a party signs for a statement: the prefix, then the canonical statement. */
export function statementBytes(entry) {
  const { actor, body, sig, stream, type } = entry;
  return utf8(STATEMENT_PREFIX + encode({
    actor, body, ctime: sig.ctime, key: sig.key, sid: sig.sid, stream, type,
  }));
}

/**
 * SignatureError unless the entry's `sig.value` is the named key's Ed25519 signature
 * over its statement bytes. `key` is a parsed vkey whose name is `sig.key`.
 */
export function verifyStatement(entry, key, step = 'statement-signature') {
  if (key.name !== entry.sig.key) {
    throw new SignatureError(step, `条目由密钥 ${entry.sig.key} 签名，给出的是 ${key.name}`,
      `the entry names key ${entry.sig.key}, the key given is ${key.name}`);
  }
  const signature = fromBase64(entry.sig.value, step, 'sig.value');
  if (!ed25519Verify(key.publicKey, statementBytes(entry), signature)) {
    throw new SignatureError(step, `条目 ${entry.seq} 的陈述签名（密钥 ${key.name}）验证失败`,
      `the statement signature of entry ${entry.seq} (key ${key.name}) does not verify`);
  }
}

/** A batch member's sid `batch/<id>/<index>/<count>` as {batch, index, count}, or null when it is not one. */
export function parseBatchSid(sid, step = 'batch') {
  if (!sid.startsWith('batch/')) return null;
  const m = BATCH_SID.exec(sid);
  if (!m || BigInt(m[2]) >= BigInt(m[3])) {
    throw new IntegrityError(step, `sid ${JSON.stringify(sid)} 以 batch/ 开头，但不是 batch/<批次 ID>/<序号>/<数量>`,
      `sid ${JSON.stringify(sid)} starts with batch/ but is not batch/<batch id>/<index>/<count>`);
  }
  return { batch: m[1], index: Number(m[2]), count: Number(m[3]) };
}

/** D = SHA-256(d_0 || ... || d_{n-1}) with d_i = SHA-256(statement bytes of member i). */
export function batchDigest(members) {
  return sha256(concat(...members.map((m) => sha256(statementBytes(m)))));
}

/** What a batch signature signs (SPEC.md 4.2). */
export function batchMessage(key, batchId, ctime, count, digest) {
  return utf8(BATCH_PREFIX + encode({ count, ctime, digest: toHex(digest), key, sid: batchId }));
}

/**
 * SignatureError unless the members (entries, in index order, all sharing key, ctime and
 * value) carry one valid batch signature; IntegrityError when they are not one whole
 * batch in order.
 */
export function verifyBatch(members, key, step = 'batch') {
  if (members.length === 0) throw new IntegrityError(step, '批次没有成员', 'the batch has no members');
  const first = parseBatchSid(members[0].sig.sid, step);
  if (first === null) throw new IntegrityError(step, '不是批次成员', 'not a batch member');
  members.forEach((m, i) => {
    const sid = parseBatchSid(m.sig.sid, step);
    if (sid === null || sid.batch !== first.batch || sid.index !== i || sid.count !== members.length ||
        m.sig.key !== members[0].sig.key || m.sig.ctime !== members[0].sig.ctime || m.sig.value !== members[0].sig.value) {
      throw new IntegrityError(step, `批次成员 ${i} 顺序不对、不完整或与其他成员不一致`,
        `batch member ${i} is out of order, incomplete or differs from the others`);
    }
  });
  if (key.name !== members[0].sig.key) {
    throw new SignatureError(step, `批次由密钥 ${members[0].sig.key} 签名，给出的是 ${key.name}`,
      `the batch names key ${members[0].sig.key}, the key given is ${key.name}`);
  }
  const message = batchMessage(key.name, first.batch, members[0].sig.ctime, members.length, batchDigest(members));
  if (!ed25519Verify(key.publicKey, message, fromBase64(members[0].sig.value, step, 'sig.value'))) {
    throw new SignatureError(step, `批次 ${first.batch} 的签名（密钥 ${key.name}）验证失败`,
      `the signature of batch ${first.batch} (key ${key.name}) does not verify`);
  }
}

/**
 * IntegrityError unless parsed entries form a chain: consecutive seqs, each `prev` the
 * previous entry's hash (64 zeros before entry 0), and log times not decreasing.
 */
export function verifyChain(entries, step = 'chain') {
  entries.forEach((e, i) => {
    if (i === 0) {
      if (e.seq === 0 && e.prev !== GENESIS_PREV) {
        throw new IntegrityError(step, '条目 0 的 prev 不是 64 个 0', 'entry 0: prev is not 64 zeros');
      }
      return;
    }
    const before = entries[i - 1];
    if (e.seq !== before.seq + 1) {
      throw new IntegrityError(step, `条目 ${before.seq} 之后是条目 ${e.seq}`, `entry ${e.seq} follows entry ${before.seq}`);
    }
    if (e.prev !== toHex(before.hash)) {
      throw new IntegrityError(step, `条目 ${e.seq} 的 prev 不是条目 ${before.seq} 的哈希`,
        `entry ${e.seq}: prev is not the hash of entry ${before.seq}`);
    }
    if (e.time < before.time) {
      throw new IntegrityError(step, `条目 ${e.seq} 的时间早于条目 ${before.seq}`, `entry ${e.seq}: time before entry ${before.seq}'s`);
    }
  });
}
