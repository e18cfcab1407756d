// c2sp.org/tlog-proof@v1 (SPEC.md section 10): an offline proof that an entry is in a
// signed tree. The tree size comes only from the checkpoint, `extra` is unauthenticated
// and never trusted, and the path holds at most 64 hashes.
import { FormatError } from './errors.mjs';
import { asBytes, decodeUtf8, fromBase64 } from './bytes.mjs';
import { parseCheckpoint, parseNote, verifyCheckpointNote, verifyCosignatures } from './note.mjs';
import { verifyInclusion } from './merkle.mjs';

export const HEADER = 'c2sp.org/tlog-proof@v1';
export const MAX_PATH = 64;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/**
 * Parse a proof strictly, its checkpoint note included: {index (BigInt), path, note (the
 * note text, verbatim), extra (bytes or null)}. The header ends at the first blank line.
 */
export function parseTlogProof(data, step = 'tlog-proof') {
  const text = typeof data === 'string' ? data : decodeUtf8(data, step);
  const split = text.indexOf('\n\n');
  if (split < 0) throw new FormatError(step, '证明在检查点之前没有空行', 'proof has no blank line before the checkpoint');
  const lines = text.slice(0, split).split('\n');
  if (lines[0] !== HEADER) throw new FormatError(step, `第 1 行：不是 ${HEADER}`, `line 1: not ${HEADER}`);
  let n = 1;
  let extra = null;
  if (n < lines.length && lines[n].startsWith('extra ')) {
    extra = fromBase64(lines[n].slice(6), step, `line ${n + 1}: extra data`);
    n++;
  }
  if (n === lines.length || !lines[n].startsWith('index ')) {
    throw new FormatError(step, `第 ${n + 1} 行：应为“index <n>”`, `line ${n + 1}: expected 'index <n>'`);
  }
  const digits = lines[n].slice(6);
  if (!DECIMAL.test(digits) || digits.length > 20 || BigInt(digits) >= 2n ** 64n) {
    throw new FormatError(step, `第 ${n + 1} 行：索引 ${JSON.stringify(digits)} 不是 2^64 以下无前导零的十进制数`,
      `line ${n + 1}: index ${JSON.stringify(digits)} is not a decimal without leading zeros below 2^64`);
  }
  const index = BigInt(digits);
  n++;
  if (lines.length - n > MAX_PATH) {
    throw new FormatError(step, `证明有 ${lines.length - n} 个路径哈希，超过 ${MAX_PATH}`,
      `proof has ${lines.length - n} path hashes, over ${MAX_PATH}`);
  }
  const path = [];
  for (let i = n; i < lines.length; i++) {
    const h = fromBase64(lines[i], step, `line ${i + 1}: path hash`);
    if (h.length !== 32) {
      throw new FormatError(step, `第 ${i + 1} 行：路径哈希为 ${h.length} 字节，应为 32`, `line ${i + 1}: path hash is ${h.length} bytes, not 32`);
    }
    path.push(h);
  }
  const note = text.slice(split + 2);
  const first = lines.length + 2;
  const parsed = parseNote(note, step, first);
  parseCheckpoint(parsed.text, step, first);
  return { index, path, note, extra };
}

/**
 * Check that `leaf` (an entry hash) is at the proof's index in a tree the pinned log key
 * signed for the pinned origin: the log's signature, the origin, the inclusion path, then
 * the cosignatures of the pinned witnesses. Returns {checkpoint, cosigned (Map name ->
 * BigInt time)}; whether enough witnesses cosigned is the caller's policy.
 */
export function verifyTlogProof(proof, leaf, logKey, origin, witnesses = [], step = 'tlog-proof') {
  if (leaf.length !== 32) throw new FormatError(step, `叶哈希为 ${leaf.length} 字节，应为 32`, `leaf hash is ${leaf.length} bytes, not 32`);
  const { note, checkpoint } = verifyCheckpointNote(asBytes(proof.note), logKey, origin, step);
  verifyInclusion(proof.index, checkpoint.size, leaf, proof.path, checkpoint.root, step);
  const cosigned = witnesses.length ? verifyCosignatures(note, witnesses, step) : new Map();
  return { checkpoint, cosigned };
}
