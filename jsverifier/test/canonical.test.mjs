import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalBytes, encode, isCanonical, parseCanonical, parseJSON } from '../src/canonical.mjs';
import { CanonicalError } from '../src/errors.mjs';
import { bytes, hex, vector } from '../testutil.mjs';

const cases = vector('clarifications-v1.json').canonical;

test('every canonical vector gets its verdict (clarifications-v1.json)', () => {
  assert.equal(cases.length, 33);
  for (const c of cases) {
    const data = c.hex !== undefined ? hex(c.hex) : bytes(c.text);
    assert.equal(isCanonical(data), c.ok, c.why);
    if (!c.ok) {
      assert.throws(() => parseCanonical(data), (err) => err instanceof CanonicalError && err.zh.length > 0 && err.en.length > 0, c.why);
    }
  }
});

test('accepted vectors re-encode to their own bytes', () => {
  for (const c of cases.filter((x) => x.ok)) {
    const data = c.hex !== undefined ? hex(c.hex) : bytes(c.text);
    assert.deepEqual(canonicalBytes(parseCanonical(data)), data, c.why);
  }
});

test('the encoder writes RFC 8785 within the profile', () => {
  const value = { b: [1, -2, 9007199254740992, -9007199254740992], a: 'x"\\\b\t\n\f\r\u0001\u001f/\u007f\u2028é😀', c: { z: null, y: true, x: false }, '': 0 };
  assert.equal(encode(value),
    '{"":0,"a":"x\\"\\\\\\b\\t\\n\\f\\r\\u0001\\u001f/\u007f\u2028é😀","b":[1,-2,9007199254740992,-9007199254740992],"c":{"x":false,"y":true,"z":null}}');
  assert.equal(encode(-0), '0');
  assert.deepEqual(parseCanonical(encode(value)), value);
});

test('the encoder refuses values outside the profile, naming the path', () => {
  for (const [value, path] of [[{ a: 1.5 }, '$.a'], [[2 ** 53 + 2], '$[0]'], [{ é: 1 }, '$'],
    [{ a: 'e\u0301' }, '$.a'], [{ a: '\ud800' }, '$.a'], [{ a: undefined }, '$.a'], [new Date(0), '$']]) {
    assert.throws(() => encode(value), (err) => err instanceof CanonicalError && err.en.startsWith(path), JSON.stringify(path));
  }
});

test('integer literals are bounded by their digits before conversion', () => {
  const long = `{"a":${'9'.repeat(5000)}}`;
  assert.throws(() => parseCanonical(long), /outside \+-2\^53/);
  assert.throws(() => parseCanonical('{"a":-9007199254740993}'), /outside/);
  assert.throws(() => parseCanonical('{"a":00}'), CanonicalError);
  assert.equal(parseCanonical('{"a":-1}').a, -1);
});

test('nesting is bounded at 64 levels', () => {
  assert.deepEqual(parseCanonical('['.repeat(64) + ']'.repeat(64)).length, 1);
  assert.throws(() => parseCanonical('['.repeat(65) + ']'.repeat(65)), /nested too deeply/);
  assert.throws(() => parseCanonical('['.repeat(100000)), /nested too deeply/);
});

test('a __proto__ key is data, never the prototype', () => {
  const v = parseCanonical('{"__proto__":{"polluted":1}}');
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ['__proto__']);
  assert.equal({}.polluted, undefined);
  assert.equal(encode(v), '{"__proto__":{"polluted":1}}');
});

test('truncated and malformed texts are refused with a reason, never a crash', () => {
  const text = '{"a":[1,{"b":"c"}],"d":"e"}';
  for (let i = 0; i < text.length; i++) assert.throws(() => parseCanonical(text.slice(0, i)), CanonicalError, text.slice(0, i));
  for (const bad of ['', ' ', '"\\x"', '"\\u12"', '"a', 'tru', '{"a"}', '{"a":1,}', '[1,]', '{1:2}', '"\u0000"', '[1]x', '\ufeff{}']) {
    assert.throws(() => parseJSON(bad), CanonicalError, JSON.stringify(bad));
  }
  assert.throws(() => parseCanonical(hex('ff')), (err) => err instanceof CanonicalError && /UTF-8/.test(err.en));
  assert.throws(() => parseCanonical('{"a":"\ud800"}'), /lone surrogate/);
});

test('parseJSON takes whitespace and escapes but keeps the profile', () => {
  assert.deepEqual(parseJSON(' { "a" : [ 1 , "\\u0041\\/" ] , "b":"\\ud83d\\ude00" }\n'), { a: [1, 'A/'], b: '😀' });
  for (const bad of ['{"a":1.0}', '{"a":1e3}', '{"a":1,"a":1}', '{"a":9007199254740993}', '"\\udc00"', 'NaN']) {
    assert.throws(() => parseJSON(bad), CanonicalError, bad);
  }
});
