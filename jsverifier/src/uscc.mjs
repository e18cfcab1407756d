// 统一社会信用代码 (GB 32100-2015) as SPEC.md 6.3 checks it, and the normalisation of a
// code a person types (15.3): NFKC (full-width to half-width), whitespace removed, upper
// case. A code that is then still invalid is refused with the reason, never answered
// "not in the pool". The tables and messages follow verifier/_registry.py.
import { FormatError } from './errors.mjs';

export const USCC_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const WEIGHTS = Array.from({ length: 17 }, (_, i) => Number(3n ** BigInt(i) % 31n));
const ORG_CHARSET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];

// GB 32100-2015 table 1 (登记管理部门代码) and table 2 (机构类别代码), with the
// departments added to the code-assignment scheme since (2-4, 6-8, A, N).
export const USCC_AUTHORITIES = {
  1: ['机构编制', '1239'], 2: ['外交', '19'], 3: ['司法行政', '123459'], 4: ['文化', '19'],
  5: ['民政', '1239'], 6: ['旅游', '129'], 7: ['宗教', '129'], 8: ['工会', '19'],
  9: ['工商', '123'], A: ['中央军委改革和编制办公室', '19'], N: ['农业', '1239'], Y: ['其他', '1'],
};
// GB/T 2260 province-level prefixes; "10" is the national level.
const PROVINCES = new Set(['10', '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33',
  '34', '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61',
  '62', '63', '64', '65', '71', '81', '82']);
const EXCEL_ZH = 'Excel 已把此代码转换为数字（科学计数法/只保留 15 位有效数字），请将该列设为文本格式后重新导出';
const EXCEL_EN = 'Excel converted this code to a number (scientific notation / 15 significant digits); ' +
  'format the column as text and re-export';
// Python's str.isspace() set, which the reference strips and splits on.
const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/g;

/** The 18th character for a 17-character body (values 0..30 in USCC_CHARSET order). */
export function usccCheckChar(body) {
  if (body.length !== 17) throw new FormatError('uscc', `代码主体为 ${body.length} 位，应为 17 位`, `USCC body has ${body.length} characters, needs 17`);
  let total = 0;
  for (let i = 0; i < 17; i++) {
    const v = USCC_CHARSET.indexOf(body[i]);
    if (v < 0) throw new FormatError('uscc', `字符 ${JSON.stringify(body[i])} 不在 GB 32100 字符集内`, `USCC character ${JSON.stringify(body[i])} is not in the GB 32100 set`);
    total += v * WEIGHTS[i];
  }
  return USCC_CHARSET[(31 - (total % 31)) % 31];
}

/** The 9th character of a GB 11714 organisation code for its 8-character body. */
export function orgCodeCheckChar(body) {
  let total = 0;
  for (let i = 0; i < 8; i++) total += ORG_CHARSET.indexOf(body[i]) * ORG_WEIGHTS[i];
  const c = 11 - (total % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/**
 * {errors, warnings}, each a list of {zh, en}, for a code under GB 32100-2015 exactly as
 * the Python verifier's check_uscc judges it: an invalid code has at least one error; a
 * failing embedded organisation code, or an unknown province prefix, is only a warning.
 */
export function checkUscc(code) {
  const errors = [];
  const warnings = [];
  const err = (zh, en) => errors.push({ zh, en });
  if (typeof code !== 'string') {
    if (typeof code === 'number') err(EXCEL_ZH, EXCEL_EN);
    else err('必须是字符串', 'must be a string');
    return { errors, warnings };
  }
  const stripped = code.replace(new RegExp(`^${PY_SPACE.source}+|${PY_SPACE.source}+$`, 'g'), '');
  if (/^[0-9]+(?:\.[0-9]*)?[Ee][+-]?[0-9]+$/.test(stripped) || /^[0-9]+\.[0-9]*$/.test(stripped)) {
    err(EXCEL_ZH, EXCEL_EN);
    return { errors, warnings };
  }
  let text = code;
  const folded = text.normalize('NFKC');
  if (folded !== text) {
    err('含全角或兼容字符，应先做 NFKC 规范化（如 Ａ→A）', 'full-width or compatibility characters; NFKC-normalise the code (e.g. Ａ -> A) before validating');
    text = folded;
  }
  if (text !== text.toUpperCase()) {
    err('含小写字母，统一社会信用代码应为大写', 'lower-case letters; GB 32100 codes are upper case');
    text = text.toUpperCase();
  }
  const chars = [...text];
  if (chars.length !== 18) err(`长度为 ${chars.length} 位，应为 18 位`, `has ${chars.length} characters, needs 18`);
  const bad = chars.map((c, i) => [i, c]).filter(([, c]) => !USCC_CHARSET.includes(c));
  for (const [i, c] of bad) {
    err(`第 ${i + 1} 位字符 ${JSON.stringify(c)} 不在 GB 32100 字符集内（不使用 I、O、S、V、Z）`,
      `character ${JSON.stringify(c)} at position ${i + 1} is not in the GB 32100 set (0-9 and A-Z without I, O, S, V, Z)`);
  }
  if (chars.length >= 2) {
    const authority = USCC_AUTHORITIES[chars[0]];
    if (authority === undefined) {
      if (USCC_CHARSET.includes(chars[0])) {
        err(`第 1 位（登记管理部门代码）${JSON.stringify(chars[0])} 不在 ${Object.keys(USCC_AUTHORITIES).join('、')} 之中`,
          `position 1 (registration authority) ${JSON.stringify(chars[0])} is not one of ${Object.keys(USCC_AUTHORITIES).join('')}`);
      }
    } else if (!authority[1].includes(chars[1])) {
      err(`第 2 位（机构类别代码）${JSON.stringify(chars[1])} 不属于登记管理部门 ${chars[0]}（${authority[0]}），可用：${[...authority[1]].join('、')}`,
        `position 2 (entity type) ${JSON.stringify(chars[1])} is not defined for registration authority ${chars[0]} (${authority[0]}); allowed: ${authority[1]}`);
    }
  }
  const region = chars.slice(2, 8).join('');
  if (chars.length >= 8 && !/^[0-9]{6}$/.test(region)) {
    err(`第 3-8 位（登记管理机关行政区划码）${JSON.stringify(region)} 不是 6 位数字`, `positions 3-8 (registration region code) ${JSON.stringify(region)} are not 6 digits`);
  } else if (chars.length >= 8 && !PROVINCES.has(region.slice(0, 2))) {
    warnings.push({ zh: `第 3-4 位 ${JSON.stringify(region.slice(0, 2))} 不是 GB/T 2260 省级代码`, en: `positions 3-4 ${JSON.stringify(region.slice(0, 2))} are not a GB/T 2260 province code` });
  }
  if (chars.length !== 18 || bad.length) return { errors, warnings };
  const expected = usccCheckChar(text.slice(0, 17));
  if (expected !== text[17]) {
    if (/^[0-9]{15}000$/.test(text)) err(EXCEL_ZH, EXCEL_EN);
    else err(`校验位错误：应为 ${JSON.stringify(expected)}，实为 ${JSON.stringify(text[17])}`, `wrong check character: expected ${JSON.stringify(expected)}, found ${JSON.stringify(text[17])}`);
    return { errors, warnings };
  }
  const org = text.slice(8, 17);
  const orgExpected = orgCodeCheckChar(org.slice(0, 8));
  if (orgExpected !== org[8]) {
    warnings.push({
      zh: `内含组织机构代码 ${org}（第 9-17 位）不符合 GB 11714 校验（应为 ${JSON.stringify(orgExpected)}）；统一社会信用代码校验位正确，予以接受`,
      en: `the embedded organisation code ${org} (positions 9-17) fails its GB 11714 MOD 11 check (expected ${JSON.stringify(orgExpected)}); accepted, the GB 32100 check character is correct`,
    });
  }
  return { errors, warnings };
}

/** Whether a code is valid as the registries hold it (no errors; warnings allowed). */
export function usccValid(code) {
  return checkUscc(code).errors.length === 0;
}

/** A typed code as the registries hold it (SPEC.md 15.3): NFKC, whitespace removed, upper case. */
export function normaliseUscc(text) {
  return text.normalize('NFKC').replace(PY_SPACE, '').toUpperCase();
}

/**
 * The normalised code of what a person typed, or FormatError (step "uscc") giving every
 * reason it is not a valid code.
 */
export function entityUscc(text) {
  const code = normaliseUscc(text);
  const { errors } = checkUscc(code);
  if (errors.length) {
    throw new FormatError('uscc', `统一社会信用代码 ${code} 无效：${errors.map((e) => e.zh).join('；')}`,
      `USCC ${code} is not valid: ${errors.map((e) => e.en).join('; ')}`);
  }
  return code;
}
