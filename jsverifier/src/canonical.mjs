// The canonical JSON profile of SPEC.md section 2: RFC 8785 restricted to objects,
// arrays, strings, integers within +-2^53, true, false and null, with ASCII keys and NFC
// strings. The parser enforces the profile while parsing (a re-encoding comparison alone
// cannot see 1.5, 9007199254740993, a non-NFC string or a non-ASCII key: each re-encodes
// to its own bytes), and parseCanonical then proves the bytes are the value's encoding.
import { CanonicalError } from './errors.mjs';
import { decodeUtf8, utf8 } from './bytes.mjs';

export const MAX_INT = 2n ** 53n;
export const MAX_INT_DIGITS = 16; // 2^53 has 16 digits: a longer literal is out of range
export const MAX_DEPTH = 64; // as the Python verifier: entries nest about 6 deep

const NOT_CANONICAL_ZH = '不是规范形式（键序、空白、转义或重复键与 RFC 8785 不同）';
const NOT_CANONICAL_EN = 'not in canonical form (key order, whitespace, escapes or duplicate keys ' +
  'differ from RFC 8785)';
const ASCII = /^[\x00-\x7f]*$/;
const LONE_SURROGATE = /\p{Cs}/u; // in u-mode a surrogate pair is one code point
const SHORT_ESCAPES = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
// The escapes canonical text may hold: the five short control escapes and \" \\; other
// controls are \u00xx in lowercase hex, and nothing else is escaped.
const CANONICAL_SHORT = new Set(['"', '\\', 'b', 'f', 'n', 'r', 't']);
const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

class Parser {
  constructor(text, canonical, step) {
    this.s = text;
    this.i = 0;
    this.canonical = canonical;
    this.step = step;
    this.depth = 0;
  }

  fail(zh, en) {
    return new CanonicalError(this.step, `${zh}（第 ${this.i + 1} 个字符处）`,
      `${en} (at character ${this.i + 1})`);
  }

  notCanonical(en) {
    return this.fail(`${NOT_CANONICAL_ZH}：${en}`, `${NOT_CANONICAL_EN}: ${en}`);
  }

  space() {
    while (this.i < this.s.length && WHITESPACE.has(this.s[this.i])) {
      if (this.canonical) throw this.notCanonical('whitespace');
      this.i++;
    }
  }

  value() {
    this.space();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    if (this.s.startsWith('NaN', this.i) || this.s.startsWith('Infinity', this.i)) {
      throw this.fail('NaN 和 Infinity 不是 JSON', 'NaN and Infinity are not JSON');
    }
    if (c === undefined) throw this.fail('JSON 意外结束', 'unexpected end of JSON');
    throw this.fail(`意外的字符 ${JSON.stringify(c)}`, `unexpected character ${JSON.stringify(c)}`);
  }

  enter() {
    if (++this.depth > MAX_DEPTH) {
      throw this.fail(`JSON 嵌套过深（超过 ${MAX_DEPTH} 层）`,
        `JSON nested too deeply (over ${MAX_DEPTH} levels)`);
    }
    this.i++;
  }

  object() {
    this.enter();
    const out = {};
    let last = null;
    this.space();
    if (this.s[this.i] === '}') {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.space();
      if (this.s[this.i] !== '"') throw this.fail('应为对象的键（字符串）', 'expected an object key (a string)');
      const at = this.i;
      const key = this.string();
      if (this.canonical && !ASCII.test(key)) {
        this.i = at;
        throw this.fail(`对象键 ${JSON.stringify(key)} 不是 ASCII`, `object key ${JSON.stringify(key)} is not ASCII`);
      }
      if (Object.hasOwn(out, key)) {
        this.i = at;
        throw this.fail(`重复的键 ${JSON.stringify(key)}`, `duplicate key ${JSON.stringify(key)}`);
      }
      if (this.canonical && last !== null && !(last < key)) {
        this.i = at;
        throw this.notCanonical(`key ${JSON.stringify(key)} after ${JSON.stringify(last)}`);
      }
      last = key;
      this.space();
      if (this.s[this.i] !== ':') throw this.fail('应为“:”', "expected ':'");
      this.i++;
      const v = this.value();
      // "__proto__" is data here, never the prototype
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.space();
      const c = this.s[this.i++];
      if (c === '}') break;
      if (c !== ',') {
        this.i--;
        throw this.fail('应为“,”或“}”', "expected ',' or '}'");
      }
    }
    this.depth--;
    return out;
  }

  array() {
    this.enter();
    const out = [];
    this.space();
    if (this.s[this.i] === ']') {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.space();
      const c = this.s[this.i++];
      if (c === ']') break;
      if (c !== ',') {
        this.i--;
        throw this.fail('应为“,”或“]”', "expected ',' or ']'");
      }
    }
    this.depth--;
    return out;
  }

  number() {
    const start = this.i;
    const m = /-?(?:0|[1-9][0-9]*)/y;
    m.lastIndex = start;
    if (!m.exec(this.s)) throw this.fail('不是 JSON 数字', 'not a JSON number');
    this.i = m.lastIndex;
    const c = this.s[this.i];
    if (c === '.' || c === 'e' || c === 'E') {
      throw this.fail('数字不是整数（不允许小数或指数，比例用百万分之几的整数）',
        'number is not an integer (no fraction or exponent: ratios are integer ppm)');
    }
    const text = this.s.slice(start, this.i);
    const digits = text.length - (text[0] === '-' ? 1 : 0);
    // count the digits before converting: a long literal must not reach BigInt
    if (digits > MAX_INT_DIGITS || (BigInt(text) > MAX_INT || BigInt(text) < -MAX_INT)) {
      const shown = text.length <= 24 ? text : `${text.slice(0, 20)}...(${digits} digits)`;
      throw this.fail(`整数 ${shown} 超出 ±2^53`, `integer ${shown} outside +-2^53`);
    }
    if (this.canonical && text === '-0') throw this.notCanonical('-0');
    return Number(text);
  }

  string() {
    const s = this.s;
    let i = ++this.i;
    let out = '';
    let run = i;
    for (;;) {
      const c = s[i];
      if (c === undefined) {
        this.i = i;
        throw this.fail('字符串未结束', 'unterminated string');
      }
      if (c === '"') break;
      if (c < ' ') {
        this.i = i;
        throw this.fail('字符串中有未转义的控制字符', 'unescaped control character in a string');
      }
      if (c !== '\\') {
        i++;
        continue;
      }
      out += s.slice(run, i);
      this.i = i;
      const e = s[i + 1];
      if (e === 'u') {
        const hex = s.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.fail('无效的 \\u 转义', 'invalid \\u escape');
        let code = parseInt(hex, 16);
        i += 6;
        if (code >= 0xd800 && code <= 0xdfff) {
          const low = code <= 0xdbff && s.slice(i, i + 2) === '\\u' ? parseInt(s.slice(i + 2, i + 6), 16) : NaN;
          if (!(low >= 0xdc00 && low <= 0xdfff) || !/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
            throw this.fail('转义的孤立代理项（不是 Unicode 字符）', 'escaped lone surrogate (not a Unicode character)');
          }
          if (this.canonical) throw this.notCanonical('escaped surrogate pair');
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          i += 6;
        } else if (this.canonical && (code >= 0x20 || [8, 9, 10, 12, 13].includes(code) || hex !== hex.toLowerCase())) {
          throw this.notCanonical(`escape \\u${hex}`);
        }
        out += String.fromCodePoint(code);
      } else if (e !== undefined && Object.hasOwn(SHORT_ESCAPES, e)) {
        if (this.canonical && !CANONICAL_SHORT.has(e)) throw this.notCanonical(`escape \\${e}`);
        out += SHORT_ESCAPES[e];
        i += 2;
      } else {
        throw this.fail('无效的转义', 'invalid escape');
      }
      run = i;
    }
    out += s.slice(run, i);
    this.i = i + 1;
    if (this.canonical && !ASCII.test(out) && out.normalize('NFC') !== out) {
      throw this.fail('字符串不是 Unicode NFC 规范化形式', 'a string is not in Unicode NFC');
    }
    return out;
  }
}

function parseText(text, canonical, step) {
  if (text.startsWith('\ufeff')) {
    throw new CanonicalError(step, '不允许字节顺序标记（BOM）', 'a byte-order mark is not allowed');
  }
  if (LONE_SURROGATE.test(text)) {
    throw new CanonicalError(step, '含孤立代理项（不是有效的 Unicode）', 'holds a lone surrogate (not valid Unicode)');
  }
  const p = new Parser(text, canonical, step);
  const value = p.value();
  p.space();
  if (p.i !== text.length) throw p.fail('JSON 值之后还有内容', 'extra data after the JSON value');
  return value;
}

/**
 * Parse JSON text or UTF-8 bytes that need not be canonical (trust.json, a proof file):
 * whitespace is allowed, but floats, NaN, integers beyond +-2^53, duplicate keys, lone
 * surrogates, a BOM and nesting over 64 levels are refused (CanonicalError).
 */
export function parseJSON(data, step = 'json') {
  const text = typeof data === 'string' ? data : decodeUtf8(data, step, '', CanonicalError);
  return parseText(text, false, step);
}

/**
 * Parse bytes (or text) that must be exactly the canonical encoding of their value
 * (SPEC.md section 2), enforcing the whole profile; CanonicalError names the fault.
 * ``before(value)``, if given, judges the value's shape on a profile-only parse before the
 * canonical form is checked (and may throw its own FormatError).
 */
export function parseCanonical(data, step = 'canonical', before = null) {
  const text = typeof data === 'string' ? data : decodeUtf8(data, step, '', CanonicalError);
  // A caller's shape check first, as the Python reference does (verifier._entry: decode,
  // members, then the canonical form): a wrong member set is reported as such even when it
  // also breaks the key order, which the canonical parse below would name first.
  if (before) before(parseText(text, false, step));
  const value = parseText(text, true, step);
  if (encode(value, step) !== text) {
    throw new CanonicalError(step, NOT_CANONICAL_ZH, NOT_CANONICAL_EN);
  }
  return value;
}

/** Whether bytes (or text) are the canonical encoding of a value in the profile. */
export function isCanonical(data) {
  try {
    parseCanonical(data);
    return true;
  } catch (err) {
    if (err instanceof CanonicalError || err?.kind === 'format') return false;
    throw err;
  }
}

const ESCAPES = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

function escape(c) {
  return ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** The canonical JSON string literal of a string (no profile checks). */
export function encodeString(text) {
  return `"${text.replace(/["\\\u0000-\u001f]/g, escape)}"`;
}

function enc(v, path, step) {
  const bad = (zh, en) => new CanonicalError(step, `${path}：${zh}`, `${path}: ${en}`);
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && !Number.isInteger(v)) throw bad('不允许浮点数（比例用百万分之几的整数）', 'floats are not allowed (use integer ppm)');
    const b = BigInt(v);
    if (b > MAX_INT || b < -MAX_INT) throw bad(`整数 ${b} 超出 ±2^53`, `integer ${b} outside +-2^53`);
    return b.toString();
  }
  if (typeof v === 'string') {
    if (LONE_SURROGATE.test(v)) throw bad('字符串含孤立代理项', 'string holds a lone surrogate');
    if (!ASCII.test(v) && v.normalize('NFC') !== v) throw bad('字符串不是 Unicode NFC 规范化形式', 'string is not in Unicode NFC');
    return encodeString(v);
  }
  if (Array.isArray(v)) return `[${v.map((x, i) => enc(x, `${path}[${i}]`, step)).join(',')}]`;
  if (typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
    const keys = Object.keys(v).sort();
    for (const k of keys) if (!ASCII.test(k)) throw bad(`对象键 ${JSON.stringify(k)} 不是 ASCII`, `object key ${JSON.stringify(k)} is not ASCII`);
    return `{${keys.map((k) => `${encodeString(k)}:${enc(v[k], `${path}.${k}`, step)}`).join(',')}}`;
  }
  throw bad(`${typeof v} 不是 JSON 值`, `${typeof v} is not a JSON value`);
}

/** The canonical text of a value, checking the profile (CanonicalError names the path). */
export function encode(value, step = 'canonical') {
  return enc(value, '$', step);
}

/** The canonical bytes of a value (UTF-8 of encode). */
export function canonicalBytes(value, step = 'canonical') {
  return utf8(encode(value, step));
}
