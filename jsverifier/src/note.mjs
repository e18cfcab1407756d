// C2SP signed notes (signed-note v1.0.0), checkpoints (tlog-checkpoint v1.0.0) and
// Ed25519 cosignatures (tlog-cosignature v1.0.1), SPEC.md sections 5.1 and 7.2-7.4.
// Parsing is strict, as the Python verifier's (verifier/_note.py): every encoding has
// one accepted form, and a malformed note fails naming its line.
import { ed25519, sha256 } from '../vendor/noble.mjs';
import { FormatError, IntegrityError, SignatureError, TrustError } from './errors.mjs';
import { asBytes, concat, decodeUtf8, fromBase64, toHex, utf8 } from './bytes.mjs';

export const ED25519_TYPE = 0x01;
export const COSIGNATURE_TYPE = 0x04;
export const MAX_SIGNATURES = 100; // golang.org/x/mod/sumdb/note's bound; C2SP asks for >= 16
export const MAX_TIMESTAMP = 2n ** 63n - 1n;
const SIG_PREFIX = '\u2014 ';
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
// Python's str.isspace(), which the reference applies to key names (JS \s differs in
// U+0085 and U+FEFF): the two verifiers must refuse the same names.
const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function checkName(name, step, where) {
  if (!name) throw new FormatError(step, `${where}：密钥名为空`, `${where}: key name is empty`);
  if (name.includes('+') || PY_SPACE.test(name) || CONTROL.test(name)) {
    throw new FormatError(step, `${where}：密钥名 ${JSON.stringify(name)} 含空白、“+”或控制字符`,
      `${where}: key name ${JSON.stringify(name)} contains a space, '+' or control character`);
  }
}

/** The 4-byte key id: SHA-256(name || 0x0A || sigtype || public key)[:4]. */
export function keyId(name, sigtype, publicKey) {
  return sha256(concat(utf8(name), Uint8Array.of(0x0a, sigtype), publicKey)).slice(0, 4);
}

/**
 * A verifier key `<name>+<8 hex id>+<base64(type || key)>` as {name, sigtype, keyId,
 * publicKey, vkey}; FormatError when any part is malformed or the id is not the key's.
 */
export function parseVkey(text, step = 'key') {
  const where = 'vkey';
  if (typeof text !== 'string') throw new FormatError(step, 'vkey 不是字符串', 'vkey is not a string');
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) {
    throw new FormatError(step, 'vkey 不是 <名称>+<密钥 ID>+<base64 密钥> 形式',
      'vkey: not <name>+<key id>+<base64 key>');
  }
  const name = text.slice(0, first);
  const hexId = text.slice(first + 1, second);
  checkName(name, step, where);
  if (!/^[0-9a-f]{8}$/.test(hexId)) {
    throw new FormatError(step, `vkey：密钥 ID ${JSON.stringify(hexId)} 不是 8 位小写十六进制`,
      `vkey: key id ${JSON.stringify(hexId)} is not 8 lowercase hex digits`);
  }
  const raw = fromBase64(text.slice(second + 1), step, 'vkey: key');
  if (raw.length !== 33) {
    throw new FormatError(step, `vkey：密钥为 ${raw.length} 字节，应为类型字节加 32 字节 Ed25519 公钥`,
      `vkey: key is ${raw.length} bytes, expected a type byte and 32 bytes of Ed25519 key`);
  }
  if (raw[0] !== ED25519_TYPE && raw[0] !== COSIGNATURE_TYPE) {
    throw new FormatError(step, `vkey：不支持签名类型 0x${raw[0].toString(16).padStart(2, '0')}`,
      `vkey: signature type 0x${raw[0].toString(16).padStart(2, '0')} is not supported (0x01 Ed25519, 0x04 Ed25519 cosignature)`);
  }
  const publicKey = raw.slice(1);
  if (toHex(keyId(name, raw[0], publicKey)) !== hexId) {
    throw new FormatError(step, `vkey：密钥 ID ${hexId} 与密钥不符`, `vkey: key id ${hexId} does not match the key`);
  }
  return { name, sigtype: raw[0], keyId: keyId(name, raw[0], publicKey), publicKey, vkey: text };
}

/** Whether an Ed25519 signature (RFC 8032, strict encodings) verifies; never throws. */
export function ed25519Verify(publicKey, message, signature) {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

function checkText(text, step, firstLine) {
  const bad = CONTROL.exec(text);
  if (bad) {
    const line = text.slice(0, bad.index).split('\n').length + firstLine - 1;
    const u = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new FormatError(step, `第 ${line} 行：控制字符 U+${u}`, `line ${line}: control character U+${u}`);
  }
  if (/\p{Cs}/u.test(text)) throw new FormatError(step, '含孤立代理项', 'not valid Unicode (a lone surrogate)');
}

function decode(data, step) {
  return typeof data === 'string' ? data : decodeUtf8(data, step);
}

/**
 * A signed note as {text, signatures: [{name, keyId, signature}]}: the text is
 * everything before the last blank line, final newline included; every line after it
 * must be a signature line, at most 100 of them. `firstLine` numbers lines of a note
 * embedded in a larger file.
 */
export function parseNote(data, step = 'note', firstLine = 1) {
  const all = decode(data, step);
  checkText(all, step, firstLine);
  if (!all.endsWith('\n')) throw new FormatError(step, '签名便笺不以换行结尾', 'note does not end with a newline');
  const split = all.lastIndexOf('\n\n');
  if (split < 0) throw new FormatError(step, '签名便笺在签名前没有空行', 'note has no blank line before its signatures');
  const text = all.slice(0, split + 1);
  const block = all.slice(split + 2);
  if (!block) throw new FormatError(step, '签名便笺最后的空行之后没有签名行', 'note has no signature lines after its last blank line');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) {
    throw new FormatError(step, `签名便笺有 ${lines.length} 个签名，超过上限 ${MAX_SIGNATURES}`,
      `note has ${lines.length} signatures, over the limit of ${MAX_SIGNATURES}`);
  }
  let lineno = text.split('\n').length + firstLine;
  const signatures = [];
  for (const line of lines) {
    const where = `line ${lineno}`;
    const zhWhere = `第 ${lineno} 行`;
    if (!line.startsWith(SIG_PREFIX)) {
      throw new FormatError(step, `${zhWhere}：签名行不以破折号和空格开头`, `${where}: signature line does not start with an em dash and a space`);
    }
    const parts = line.slice(SIG_PREFIX.length).split(' ');
    if (parts.length !== 2) {
      throw new FormatError(step, `${zhWhere}：签名行不是“— <名称> <base64>”`, `${where}: signature line is not '\u2014 <name> <base64>'`);
    }
    const [name, b64] = parts;
    checkName(name, step, where);
    const raw = fromBase64(b64, step, `${where}: signature`);
    if (raw.length < 5) {
      throw new FormatError(step, `${zhWhere}：签名只有 ${raw.length} 字节，不足以容纳密钥 ID 和签名`,
        `${where}: signature is ${raw.length} bytes, too short for a key id and a signature`);
    }
    signatures.push({ name, keyId: raw.slice(0, 4), signature: raw.slice(4) });
    lineno++;
  }
  return { text, signatures };
}

function known(keys, sigtype) {
  const out = new Map();
  for (const k of keys) if (k.sigtype === sigtype) out.set(`${k.name}\n${toHex(k.keyId)}`, k);
  return out;
}

/**
 * The keys (sigtype 0x01) whose signatures on the note verify. Signatures by unknown keys
 * (name and id not both matching) are ignored; a bad or repeated signature by a known key,
 * or a note no known key signed, is refused.
 */
export function verifyNote(note, verifiers, step = 'note') {
  const keys = known(verifiers, ED25519_TYPE);
  if (keys.size === 0) throw new TrustError(step, '未给出签名便笺的验证密钥（类型 0x01）', 'no note verifier key (type 0x01) given');
  const message = utf8(note.text);
  const good = [];
  for (const sig of note.signatures) {
    const k = keys.get(`${sig.name}\n${toHex(sig.keyId)}`);
    if (k === undefined) continue;
    if (good.includes(k)) throw new FormatError(step, `签名便笺有密钥 ${k.name} 的两个签名`, `note has two signatures by key ${k.name}`);
    if (!ed25519Verify(k.publicKey, message, sig.signature)) {
      throw new SignatureError(step, `密钥 ${k.name}（${toHex(k.keyId)}）的签名验证失败`,
        `signature by key ${k.name} (${toHex(k.keyId)}) does not verify`);
    }
    good.push(k);
  }
  if (good.length === 0) {
    const names = [...keys.values()].map((k) => k.name).sort().join(', ');
    throw new SignatureError(step, `签名便笺没有受信任密钥（${names}）的签名`, `note is not signed by any trusted key (${names})`);
  }
  return good;
}

/** What a witness signs: "cosignature/v1\ntime <t>\n" || the checkpoint text. */
export function cosignatureMessage(checkpointText, timestamp) {
  return utf8(`cosignature/v1\ntime ${BigInt(timestamp)}\n${checkpointText}`);
}

/**
 * Witness name -> cosignature time (BigInt unix seconds) for each pinned witness (sigtype
 * 0x04) whose cosignature verifies. Unknown cosigners are ignored; a malformed, repeated
 * or failing cosignature by a pinned witness is refused. How many suffice is the caller's.
 */
export function verifyCosignatures(note, witnesses, step = 'cosignature') {
  for (const w of witnesses) {
    if (w.sigtype !== COSIGNATURE_TYPE) {
      throw new TrustError(step, `见证密钥 ${w.name} 不是联署（类型 0x04）密钥`, `witness key ${w.name} is not a cosignature (type 0x04) key`);
    }
  }
  const keys = known(witnesses, COSIGNATURE_TYPE);
  const out = new Map();
  for (const sig of note.signatures) {
    const w = keys.get(`${sig.name}\n${toHex(sig.keyId)}`);
    if (w === undefined) continue;
    if (out.has(w.name)) throw new FormatError(step, `签名便笺有见证方 ${w.name} 的两个联署`, `note has two cosignatures by witness ${w.name}`);
    if (sig.signature.length !== 72) {
      throw new SignatureError(step, `${w.name} 的联署为 ${sig.signature.length + 4} 字节，Ed25519 联署应为 76 字节`,
        `cosignature by ${w.name}: ${sig.signature.length + 4} bytes, an Ed25519 cosignature is 76`);
    }
    const time = new DataView(sig.signature.buffer, sig.signature.byteOffset, 8).getBigUint64(0);
    if (time > MAX_TIMESTAMP) {
      throw new SignatureError(step, `${w.name} 的联署时间戳超过 2^63-1`, `cosignature by ${w.name}: timestamp over 2^63-1`);
    }
    if (!ed25519Verify(w.publicKey, cosignatureMessage(note.text, time), sig.signature.slice(8))) {
      throw new SignatureError(step, `见证方 ${w.name}（${toHex(w.keyId)}）的联署验证失败`,
        `cosignature by ${w.name} (${toHex(w.keyId)}) does not verify`);
    }
    out.set(w.name, time);
  }
  return out;
}

/**
 * A checkpoint body `<origin>\n<size>\n<base64 root>\n[extension lines]` as {origin,
 * size (BigInt), root (32 bytes), extensions}. Extension lines are accepted and mean
 * nothing (SPEC.md 7.2); an empty one makes the checkpoint malformed.
 */
export function parseCheckpoint(text, step = 'checkpoint', firstLine = 1) {
  if (!text.endsWith('\n')) throw new FormatError(step, '检查点不以换行结尾', 'checkpoint does not end with a newline');
  checkText(text, step, firstLine);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) {
    throw new FormatError(step, `检查点只有 ${lines.length} 行，需要来源、大小和根哈希`,
      `checkpoint has ${lines.length} lines, needs origin, size and root`);
  }
  const [origin, size, root] = lines;
  if (!origin) throw new FormatError(step, `第 ${firstLine} 行：检查点来源为空`, `line ${firstLine}: checkpoint origin is empty`);
  if (!DECIMAL.test(size) || size.length > 20 || BigInt(size) >= 2n ** 64n) {
    throw new FormatError(step, `第 ${firstLine + 1} 行：树大小 ${JSON.stringify(size)} 不是 2^64 以下无前导零的十进制数`,
      `line ${firstLine + 1}: tree size ${JSON.stringify(size)} is not a decimal without leading zeros below 2^64`);
  }
  const rawRoot = fromBase64(root, step, `line ${firstLine + 2}: root hash`);
  if (rawRoot.length !== 32) {
    throw new FormatError(step, `第 ${firstLine + 2} 行：根哈希为 ${rawRoot.length} 字节，应为 32`,
      `line ${firstLine + 2}: root hash is ${rawRoot.length} bytes, not 32`);
  }
  const extensions = lines.slice(3);
  extensions.forEach((ext, i) => {
    if (!ext) throw new FormatError(step, `第 ${firstLine + 3 + i} 行：空的扩展行`, `line ${firstLine + 3 + i}: empty extension line`);
  });
  return { origin, size: BigInt(size), root: rawRoot, extensions };
}

/**
 * A checkpoint note checked against a pinned log key and origin: {note, checkpoint}.
 * SignatureError when the log key did not sign it, IntegrityError when the origin
 * differs.
 */
export function verifyCheckpointNote(data, logKey, origin, step = 'checkpoint') {
  const note = parseNote(asBytes(data), step);
  verifyNote(note, [logKey], step);
  const checkpoint = parseCheckpoint(note.text, step);
  if (checkpoint.origin !== origin) {
    throw new IntegrityError(step, `检查点来源 ${JSON.stringify(checkpoint.origin)} 不是预期的 ${JSON.stringify(origin)}`,
      `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not the expected ${JSON.stringify(origin)}`);
  }
  return { note, checkpoint };
}

