// The verification page: fetch (or open) a proof file and the trust policy, then check
// the proof offline with src/entityproof.mjs and show each step as 通过 / 失败 with its
// reason. Query: ?proof=URL (same origin) and &trust=URL (default /trust.json); the trust
// policy should be pinned from an independent channel, so its fingerprint is shown.
import { sha256 } from '../vendor/noble.mjs';
import { canonicalBytes, parseJSON } from '../src/canonical.mjs';
import { toHex } from '../src/bytes.mjs';
import { verifyEntityProof } from '../src/entityproof.mjs';
import { parseTrust } from '../src/trust.mjs';
import { warmBls } from '../src/warm.mjs';

const $ = (id) => document.getElementById(id);
const VERDICT = {
  drawn: ['被抽中', 'drawn'], not_drawn: ['未被抽中', 'not drawn'], excluded: ['因排除期不在检查对象池中', 'excluded by the exclusion window'],
  not_in_pool: ['不在检查对象池中', 'not in the pool'], depends_on_internal_field: ['取决于未公开的内部字段（风险等级）', 'depends on an internal field (the risk class)'],
};
let trust = null;

function line(parent, tag, zh, en, cls) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  el.append(zh, ' ');
  const span = document.createElement('span');
  span.className = 'en';
  span.textContent = en;
  el.append(span);
  parent.append(el);
  return el;
}

// The failing step by number and name (its Chinese name is what precedes "：失败"), or the
// exit code when no step failed (e.g. unverifiable: no trust policy pinned).
function failedText(result, failed) {
  if (!failed) return `验证未通过（退出码 ${result.exit_code}）/ not verified (exit ${result.exit_code})`;
  const n = result.steps.indexOf(failed) + 1;
  return `验证失败：第 ${n} 步 ${failed.zh.split('：')[0]} / verification failed at step ${n}, ${failed.step}`;
}

function show(bytes) {
  $('steps').replaceChildren();
  let result;
  try {
    result = verifyEntityProof(bytes, trust);
  } catch (err) {
    $('overall').className = 'fail';
    $('overall').textContent = `验证失败：${err.zh ?? err.message} / verification failed: ${err.en ?? err.message}`;
    return;
  }
  $('subject').textContent = `抽取 draw ${result.draw} · 统一社会信用代码 USCC ${result.uscc}`;
  for (const s of result.steps) {
    const li = line($('steps'), 'li', '', '', s.ok ? 'step pass' : 'step fail');
    li.dataset.step = s.step;
    li.textContent = `${s.ok ? '✓' : '✗'} ${s.zh} / ${s.en}`;
  }
  const failed = result.steps.find((s) => !s.ok);
  const ok = result.exit_code === 0;
  $('overall').className = ok ? 'pass' : 'fail';
  $('overall').dataset.exit = String(result.exit_code);
  $('overall').textContent = ok ? '验证通过 / verified' : failedText(result, failed);
  const a = result.answer;
  $('answer').textContent = a && VERDICT[a.verdict] ? `结论：${VERDICT[a.verdict][0]} / answer: ${VERDICT[a.verdict][1]}` : '';
}

async function start() {
  const q = new URLSearchParams(location.search);
  try {
    const text = await (await fetch(q.get('trust') ?? '/trust.json')).text();
    const obj = parseJSON(text, 'trust');
    trust = parseTrust(obj);
    $('fingerprint').textContent = toHex(sha256(canonicalBytes(obj)));
    $('trust-text').textContent = JSON.stringify(obj, null, 1);
    $('trust-source').textContent = '请通过独立渠道（计划公告、见证机构）核对该指纹 / check this fingerprint against an independent channel (the plan publication, a witness)';
  } catch (err) {
    $('trust-source').textContent = `未固定信任策略，将使用证明文件自带的密钥 / no trust policy pinned: the file's own keys will be used (${err.en ?? err.message})`;
  }
  $('file').addEventListener('change', async (ev) => {
    const f = ev.target.files[0];
    if (f) show(new Uint8Array(await f.arrayBuffer()));
  });
  const proof = q.get('proof');
  if (proof) show(new Uint8Array(await (await fetch(proof)).arrayBuffer()));
  // the first BLS check in a page costs several warm ones: pay it before the user picks a file
  else setTimeout(() => warmBls(trust ? trust.chains : []), 0);
}

start();
