import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkUscc, entityUscc, normaliseUscc, orgCodeCheckChar, usccCheckChar, usccValid } from '../src/uscc.mjs';
import { FormatError } from '../src/errors.mjs';
import { vector } from '../testutil.mjs';

const u = vector('uscc.json');

test('uscc.json: the standard example, every valid and every invalid code', () => {
  assert.equal(usccCheckChar(u.standard_example.body), u.standard_example.check);
  for (const code of u.valid_synthetic) assert.deepEqual(checkUscc(code).errors, [], code);
  for (const c of u.invalid) {
    const { errors } = checkUscc(c.code);
    assert.ok(errors.length > 0, c.why);
    for (const e of errors) assert.ok(e.zh && e.en);
  }
  assert.match(checkUscc('913703021922038000').errors[0].en, /Excel/);
  assert.match(checkUscc('9.13703E+17').errors[0].en, /Excel/);
});

test('the tables: registration authority, entity type, region; warnings are not errors', () => {
  assert.match(checkUscc('B1370321MAU34K4U1H').errors.map((e) => e.en).join(), /position 1/);
  assert.match(checkUscc('95370321MAU34K4U1H').errors.map((e) => e.en).join(), /position 2/);
  assert.match(checkUscc('9137A321MAU34K4U1H').errors.map((e) => e.en).join(), /positions 3-8/);
  assert.equal(orgCodeCheckChar('D2143569'), 'X'); // 10 is written X (as verifier/_uscc.py)
  // a valid code whose embedded organisation code fails: a warning only
  const code = '91370321MAU34K4U1H';
  const { errors, warnings } = checkUscc(code);
  assert.deepEqual(errors, []);
  assert.equal(warnings.length, orgCodeCheckChar(code.slice(8, 16)) === code[16] ? 0 : 1);
  assert.equal(usccValid(code), true);
  assert.equal(usccValid(42), false);
});

test('what a person types is normalised (SPEC 15.3), and an invalid code says why', () => {
  const full = '９１３７０３２１ＭＡＵ３４Ｋ４Ｕ１ｈ';
  assert.equal(normaliseUscc(` ${full}\u3000`), '91370321MAU34K4U1H');
  assert.equal(entityUscc('9137 0321 mau3 4k4u 1h'), '91370321MAU34K4U1H');
  assert.throws(() => entityUscc('91370321MAU34K4U1J'), (err) => err instanceof FormatError && err.step === 'uscc' && /校验位错误/.test(err.zh) && /wrong check character/.test(err.en));
});
