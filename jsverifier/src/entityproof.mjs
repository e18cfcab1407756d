// The entity proof drawledger/entity-proof/v1 (SPEC.md section 22): the eleven named
// steps of 22.2 in order, each passed or failed with its reason in Chinese and English,
// then the entity's fate. Everything rests on the pinned trust policy: the entries by one
// multi-leaf inclusion proof to one quorum-cosigned checkpoint, the plan and the draw by the statement
// signatures, the pool leaf by the committed root. The first integrity failure stops the
// check: later steps would rest on unauthenticated bytes.
import { FormatError, VerifyError } from './errors.mjs';
import { fromHex, toHex, utf8 } from './bytes.mjs';
import { canonicalBytes, encode, parseCanonical } from './canonical.mjs';
import { parseEntry, verifyStatement } from './entry.mjs';
import { leafHash, verifyInclusion } from './merkle.mjs';
import { decodeHashes, verifyMultiInclusion } from './multiproof.mjs';
import { parseCheckpoint, parseNote, parseVkey, verifyCheckpointNote, verifyCosignatures } from './note.mjs';
import { parseTrust } from './trust.mjs';
import { checkUscc, normaliseUscc } from './uscc.mjs';
import { KNOWN_CHAINS, randomness, roundAt, roundTime, verifyBeacon } from './drand.mjs';
import { compareBytes } from './bytes.mjs';
import { drawSeed, lotteryKeyString, revealCommitment, targetScore } from './draw.mjs';

export const FORMAT = 'drawledger/entity-proof/v1';
export const MAX_BYTES = 1 << 20;
export const STEPS = ['format', 'proofs', 'genesis', 'signatures', 'plan', 'stream', 'beacon',
  'reveals', 'seed', 'pool', 'fate'];
export const STEP_ZH = {
  format: '文件格式', proofs: '检查点与包含证明', genesis: '创世条目与信任策略', signatures: '声明签名',
  plan: '抽查计划', stream: '抽取记录序列', beacon: '随机信标', reveals: '承诺揭示', seed: '随机种子',
  pool: '检查对象池', fate: '抽取结果',
};
const INTEGRITY = 'integrity';
const VIOLATION = 'violation';
const UNVERIFIABLE = 'unverifiable';
const MEMBERS = ['checkpoint', 'draw', 'entries', 'excluded', 'format', 'pool', 'proof', 'trust', 'uscc'];
const TARGET_FIELDS = ['registry', 'industry', 'region', 'risk', 'status', 'unit'];
const V1_LEAF = [...TARGET_FIELDS, 'stratum', 'uscc'].sort().join();
const V2_LEAF = [...TARGET_FIELDS.filter((f) => f !== 'risk'), 'sealed', 'uscc'].sort().join();
const PREFIX_FIELDS = new Set(['industry', 'region']);
const AFTER = new Set(['draw.unfillable', 'draw.substituted']);
const ALIASES = {
  'drand-quicknet': KNOWN_CHAINS['loe-quicknet'].chain_hash, 'loe-quicknet': KNOWN_CHAINS['loe-quicknet'].chain_hash,
  'drand-default': KNOWN_CHAINS['loe-default'].chain_hash, 'loe-default': KNOWN_CHAINS['loe-default'].chain_hash,
};
const RULE_STEP = { V5: 'beacon', 'V4.commit_late': 'beacon', V6: 'reveals', 'V5.lottery': 'seed', V8: 'seed' };
const EXIT = { clean: 0, violation: 1, integrity: 2, unverifiable: 3 };

/** The file does not name the format anywhere: a usage error, not a damaged proof. */
export class NotAnEntityProof extends VerifyError {
  get kind() { return 'usage'; }
}

const finding = (rule, zh, en, kind = INTEGRITY) => ({ rule, kind, zh, en });
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const same = (a, b) => a !== undefined && b !== undefined && encode(a) === encode(b);
const bad = (zh, en) => new FormatError('format', zh, en);

function hex64(v, where) {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw bad(`${where} 不是 64 位小写十六进制`, `${where}: not 64 lowercase hex digits`);
  return fromHex(v, 32, 'format', where);
}

function index(v, where) {
  if (!Number.isInteger(v) || v < 0) throw bad(`${where} 不是非负整数`, `${where}: not a non-negative integer`);
  return v;
}

function leafItem(v, where) {
  if (!isObj(v) || Object.keys(v).sort().join() !== 'index,leaf,proof') {
    throw bad(`${where} 必须恰有 index、leaf、proof`, `${where}: needs exactly the members ["index", "leaf", "proof"]`);
  }
  if (typeof v.leaf !== 'string' || !Array.isArray(v.proof)) throw bad(`${where}：leaf 须为文本，proof 须为列表`, `${where}: leaf must be text and proof a list`);
  const fields = parseCanonical(utf8(v.leaf), 'format');
  if (!isObj(fields) || !Object.values(fields).every((x) => typeof x === 'string')) {
    throw bad(`${where}.leaf 不是字符串对象`, `${where}.leaf: not an object of strings`);
  }
  return { index: index(v.index, `${where}.index`), leaf: v.leaf, fields, proof: decodeHashes(v.proof, `${where}.proof`) };
}

function parse(data, expectDraw) {
  if (data.length > MAX_BYTES) throw bad(`文件为 ${data.length} 字节，超过 ${MAX_BYTES} 字节上限`, `the file is ${data.length} bytes, over the ${MAX_BYTES}-byte limit`);
  const obj = parseCanonical(data, 'format');
  if (!isObj(obj) || Object.keys(obj).sort().join() !== MEMBERS.join() || obj.format !== FORMAT) {
    throw bad(`不是恰有 ${MEMBERS.join('、')} 的 ${FORMAT} 对象`, `not a ${FORMAT} object with exactly the members ${JSON.stringify(MEMBERS)}`);
  }
  const { draw, uscc } = obj;
  if (typeof draw !== 'string' || !draw.includes('/') || draw.startsWith('/') || draw.endsWith('/')) throw bad('draw 不是 plan_id/batch_id', 'draw: not plan_id/batch_id');
  if (expectDraw != null && draw !== expectDraw) throw bad(`该证明属于抽取 ${draw}，不是 ${expectDraw}`, `draw: the proof is for draw ${draw}, not ${expectDraw}`);
  if (typeof uscc !== 'string' || normaliseUscc(uscc) !== uscc || checkUscc(uscc).errors.length) {
    throw bad('uscc 不是名录库所存形式的有效统一社会信用代码', 'uscc: not a valid USCC as the registries hold it');
  }
  const trust = parseTrust(obj.trust);
  if (typeof obj.checkpoint !== 'string') throw bad('checkpoint 不是已签名检查点的文本', 'checkpoint: not the text of a signed checkpoint note');
  const note = parseNote(utf8(obj.checkpoint), 'format');
  const checkpoint = parseCheckpoint(note.text, 'format');
  if (!Array.isArray(obj.entries)) throw bad('entries 须为列表', 'entries: not a list');
  const entries = obj.entries.map((item, i) => {
    if (!isObj(item)) throw bad(`entries[${i}] 不是条目对象`, `entries[${i}]: not an entry object`);
    // the exact bytes of the entry: the file is canonical, so is every value in it
    return { e: parseEntry(canonicalBytes(item, 'format'), 'format') };
  });
  if (!entries.length || entries.some((x, i) => i > 0 && entries[i - 1].e.seq >= x.e.seq)) {
    throw bad('entries 为空或 seq 不严格递增', 'entries: empty or not in strictly increasing seq');
  }
  const planStream = `plan/${draw.slice(0, draw.lastIndexOf('/'))}`;
  for (const { e } of entries) {
    if (e.type.startsWith('draw.') && e.stream !== `draw/${draw}`) {
      throw bad(`第 ${e.seq} 条是另一次抽取的条目（${e.stream}）`, `entries: entry ${e.seq} is a draw entry of another draw (${e.stream})`);
    }
    if (!(e.seq === 0 || e.type === 'key.registered' || e.stream === planStream || e.stream === `draw/${draw}`)) {
      throw bad(`第 ${e.seq} 条（${e.type}）不应在证明中`, `entries: entry ${e.seq} (${e.type}) has no place in the proof`);
    }
  }
  const proof = decodeHashes(obj.proof, 'proof');
  let pool = obj.pool;
  let absent = null;
  if (isObj(pool) && Object.keys(pool).join() === 'absent') {
    if (!Array.isArray(pool.absent) || pool.absent.length !== 2) throw bad('pool.absent 不是两个相邻叶', 'pool.absent: not a list of two neighbours');
    absent = pool.absent.map((s, k) => (s === null ? null : leafItem(s, `pool.absent[${k}]`)));
    pool = null;
  } else {
    pool = leafItem(pool, 'pool');
  }
  const excluded = obj.excluded === null ? null : leafItem(obj.excluded, 'excluded');
  return { draw, uscc, trust, checkpoint: obj.checkpoint, cp: checkpoint, entries, proof, pool, absent, excluded };
}

function proofs(ctx) {
  const t = ctx.trust;
  const known = new Set([t.logKey, ...t.witnesses].map((k) => `${k.name}\n${toHex(k.keyId)}`));
  let cp = ctx.p.cp;
  try {
    const { note, checkpoint } = verifyCheckpointNote(utf8(ctx.p.checkpoint), t.logKey, t.origin, 'proofs');
    cp = checkpoint;
    if (note.signatures.some((s) => !known.has(`${s.name}\n${toHex(s.keyId)}`))) {
      throw bad('带有信任策略未列出的密钥的签名', 'it carries a signature by a key the trust policy does not name');
    }
    const cosigned = t.witnesses.length ? verifyCosignatures(note, t.witnesses, 'proofs') : new Map();
    if (cosigned.size < t.quorum) throw bad(`只有 ${cosigned.size} 个见证联署，少于法定数 ${t.quorum}`, `it has ${cosigned.size} witness cosignatures, fewer than the quorum ${t.quorum}`);
  } catch (err) {
    if (!(err instanceof VerifyError)) throw err;
    return [finding('EPROOF.checkpoint', `检查点（树大小 ${cp.size}）无效：${err.zh}`, `the checkpoint (tree size ${cp.size}) fails: ${err.en}`)];
  }
  try {
    verifyMultiInclusion(ctx.p.entries.map((x) => x.e.seq), cp.size, ctx.p.entries.map((x) => x.e.hash), ctx.p.proof, cp.root, 'proofs');
  } catch (err) {
    if (!(err instanceof VerifyError)) throw err;
    return [finding('EPROOF.proof', `条目的包含证明无效：${err.zh}`, `the inclusion proof of the entries fails: ${err.en}`)];
  }
  return [];
}

function trustVsGenesis(trust, body, beacons) {
  const problems = [];
  for (const [name, mine] of [['origin', trust.origin], ['log_key', trust.logKey.vkey],
    ['authority_keys', trust.authorityKeys.map((k) => k.vkey)], ['witnesses', trust.witnesses.map((w) => w.vkey)],
    ['quorum', trust.quorum]]) {
    if (!same(body[name], mine)) problems.push(name);
  }
  if (beacons && !same(body.beacons ?? [], trust.beacons)) problems.push('beacons');
  return problems;
}

function genesis(ctx) {
  const first = ctx.p.entries[0].e;
  if (first.seq !== 0 || first.type !== 'log.genesis') return [finding('EPROOF.genesis', '证明文件缺少创世条目', 'the proof lacks the genesis entry')];
  ctx.spec = first.body.spec === undefined ? 1 : Number.isInteger(first.body.spec) ? first.body.spec : 0;
  const problems = trustVsGenesis(ctx.p.trust, first.body, true);
  if (ctx.pinned) problems.push(...trustVsGenesis(ctx.trust, first.body, false).map((p) => `pinned ${p}`));
  if (problems.length) {
    return [finding('V1.trust', `创世条目与信任策略不符：${problems.join(', ')}`, `the genesis entry differs from the trust policy: ${problems.join(', ')}`)];
  }
  if (!ctx.pinned) {
    return [finding('TRUST', '未固定信任策略：使用了证明文件自带的密钥，结论取决于这些密钥是否属实',
      "no trust policy pinned: the file's own keys were used; the answer holds only if they are the log's", UNVERIFIABLE)];
  }
  return [];
}

function signatures(ctx) {
  const keys = new Map(ctx.trust.authorityKeys.map((k) => [k.name, { key: k, owner: 'authority', at: 0 }]));
  const out = [];
  for (const { e } of ctx.p.entries) {
    const k = keys.get(e.sig.key);
    let ok = k !== undefined && !(k.at > e.seq) && !(k.at === e.seq && e.seq > 0);
    if (ok) {
      try {
        verifyStatement(e, k.key);
      } catch (err) {
        if (!(err instanceof VerifyError)) throw err;
        ok = false;
      }
    }
    if (!ok) {
      out.push(finding('V1.signature', `第 ${e.seq} 条的签名无法用此前登记的密钥核验`, `entry ${e.seq} is not signed by a key registered before it`));
      continue;
    }
    if (k.owner !== 'authority' && k.owner !== e.actor) {
      out.push(finding('V1.key', `第 ${e.seq} 条的签名密钥不属于 ${e.actor}`, `entry ${e.seq} is signed by a key of another department`));
    }
    if (e.type === 'key.registered' && k.owner === 'authority' && e.body.role === 'department') {
      try {
        const registered = parseVkey(String(e.body.vkey));
        keys.set(registered.name, { key: registered, owner: String(e.body.dept), at: e.seq });
      } catch (err) {
        if (!(err instanceof VerifyError)) throw err;
      }
    }
  }
  return out;
}

function drawEntries(ctx) {
  return ctx.p.entries.map((x) => x.e).filter((e) => e.stream === `draw/${ctx.p.draw}`);
}

function plan(ctx) {
  const cut = ctx.p.draw.lastIndexOf('/');
  const planId = ctx.p.draw.slice(0, cut);
  const batchId = ctx.p.draw.slice(cut + 1);
  const draws = drawEntries(ctx);
  if (!draws.length || draws[0].type !== 'draw.committed') return [finding('EPROOF.stream', '证明文件缺少抽取承诺条目', 'the proof lacks the commitment')];
  ctx.commit = draws[0];
  const body = ctx.commit.body;
  if (body.plan_id !== planId || body.batch_id !== batchId) return [finding('EPROOF.plan', '承诺条目不属于本次抽取', 'the commitment is of another batch')];
  const found = Number.isInteger(body.plan_seq) ? ctx.p.entries.find((x) => x.e.seq === body.plan_seq) : undefined;
  const p = found?.e;
  if (!p || p.stream !== `plan/${planId}` || p.seq >= ctx.commit.seq || !Array.isArray(p.body.tasks)) {
    return [finding('EPROOF.plan', '证明文件不含承诺所引用（plan_seq）的计划版本', 'the proof lacks the plan version the commitment names (plan_seq)')];
  }
  for (const task of p.body.tasks) {
    for (const batch of (isObj(task) && Array.isArray(task.batches) ? task.batches : [])) {
      if (isObj(batch) && batch.batch_id === batchId) {
        ctx.plan = p;
        ctx.batch = batch;
      }
    }
  }
  if (!ctx.plan) return [finding('EPROOF.plan', `计划版本中没有批次 ${batchId}`, `the plan version holds no batch ${batchId}`)];
  const published = ctx.p.entries.some(({ e }) => e.stream === p.stream && e.type === 'plan.published' && e.seq < ctx.commit.seq);
  if (!published) {
    return [finding('V2.plan_unpublished', `批次 ${ctx.p.draw} 承诺抽取时所属计划尚未公开`, `batch ${ctx.p.draw} was committed before its plan was published`, VIOLATION)];
  }
  return [];
}

function stream(ctx) {
  const draws = drawEntries(ctx);
  const k = draws.findIndex((e) => e.type === 'draw.executed');
  if (k < 0) return [finding('EPROOF.stream', '证明文件中没有抽取执行条目', 'the proof holds no execution of the draw')];
  const head = draws.slice(0, k + 1);
  if (head.some((e, i) => e.version !== i + 1) || head.slice(1, k).some((e) => e.type !== 'draw.revealed')) {
    return [finding('EPROOF.stream', '抽取记录的版本不是从 1 起连续到首次执行（缺条目或有多余条目）', "the draw's versions are not 1, 2, ... up to its first execution")];
  }
  ctx.execution = draws[k];
  ctx.reveals = head.slice(1, k);
  if (ctx.execution.body.commit_seq !== ctx.commit.seq) return [finding('EPROOF.stream', '执行条目未引用本次承诺', 'the execution cites another commitment')];
  ctx.after = draws.slice(k + 1);
  for (const e of ctx.after) {
    if (!AFTER.has(e.type) || e.body.uscc !== ctx.p.uscc) {
      return [finding('EPROOF.stream', `第 ${e.seq} 条不是本企业的替换或无法组队记录`, `entry ${e.seq} is not an unfillable or substitution entry of this entity`)];
    }
  }
  return [];
}

/** T of a batch: its draw date at draw_time (default 10:00), Asia/Shanghai, as unix seconds and ISO text. */
function drawTime(batch) {
  const hhmm = typeof batch.draw_time === 'string' && /^(?:[01][0-9]|2[0-3]):[0-5][0-9]$/.test(batch.draw_time) ? batch.draw_time : '10:00';
  const day = String(batch.draw_date);
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(day);
  if (!m) throw bad(`draw_date ${day} 不是日期`, `draw_date ${day} is not a date`);
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(hhmm.slice(0, 2)) - 8, Number(hhmm.slice(3))) / 1000;
  return { t, iso: `${day}T${hhmm}:00+08:00` };
}

function epoch(logTime) {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})\+08:00$/.exec(logTime);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]) - 8, Number(m[5]), Number(m[6])) / 1000 + Number(m[7]) / 1e6;
}

function looseHex(text) {
  return /^(?:[0-9a-fA-F]{2})*$/.test(text) ? fromHex(text.toLowerCase(), null, 'seed', 'hex') : null;
}

function drawChecks(ctx) {
  const chains = new Map([...Object.values(KNOWN_CHAINS), ...ctx.trust.chains].map((c) => [c.chain_hash, c]));
  const found = [];
  const c = ctx.commit.body;
  const who = `${c.plan_id}/${c.batch_id}`;
  const v = (rule, zh, en) => found.push(finding(rule, zh, en, VIOLATION));
  // the commitment's round (14.4)
  const recipe = isObj(ctx.batch.randomness) ? ctx.batch.randomness : {};
  if (isObj(c.beacon)) {
    const chain = chains.get(ALIASES[String(recipe.beacon)] ?? String(recipe.beacon));
    if (!chain || c.beacon.chain !== chain.chain_hash) {
      found.push(finding('V5.chain', `批次 ${who} 的随机信标链不在信任策略中或与计划不符`, `batch ${who}: the beacon chain is not trusted or not the one the plan names`, chain ? VIOLATION : UNVERIFIABLE));
    } else {
      const T = drawTime(ctx.batch);
      const expected = roundAt(chain, T.t);
      if (!(Number.isInteger(c.beacon.round) && BigInt(c.beacon.round) === expected)) {
        v('V5.round', `批次 ${who} 承诺的信标轮次 ${c.beacon.round} 不是抽取时间之后的第一轮 ${expected}`, `batch ${who}: committed beacon round ${c.beacon.round} is not the first round at or after the draw time, ${expected}`);
      }
      if (c.draw_time !== T.iso) v('V5.round', `批次 ${who} 的抽取时间与计划不符`, `batch ${who}: draw_time differs from the plan's`);
      if (epoch(ctx.commit.time) >= Number(roundTime(chain, expected))) {
        v('V4.commit_late', `批次 ${who} 的承诺写入时间不早于信标第 ${expected} 轮的发布时间`, `batch ${who} was committed no earlier than beacon round ${expected} was published`);
      }
    }
  }
  // reveals (14.5)
  const parties = new Map((Array.isArray(c.parties) ? c.parties : []).filter(isObj).map((p) => [String(p.dept), String(p.commitment)]));
  const revealed = new Map();
  for (const e of ctx.reveals) {
    const dept = String(e.body.dept);
    const raw = looseHex(String(e.body.secret)) ?? new Uint8Array(0);
    if (!parties.has(dept) || revealCommitment(String(c.plan_id), String(c.batch_id), dept, raw) !== parties.get(dept)) {
      v('V6.mismatch', `${dept} 揭示的值与其在批次 ${who} 的承诺不符`, `${dept}'s revealed secret does not match its commitment for ${who}`);
    } else if (!revealed.has(dept)) {
      revealed.set(dept, raw);
    }
  }
  // the execution (14.6, 14.9)
  const x = ctx.execution.body;
  let rnd = null;
  if (!isObj(c.beacon) || !isObj(x.beacon)) {
    v('V5.beacon', `批次 ${who} 缺少信标证据`, `batch ${who}: beacon evidence is missing`);
  } else if (x.beacon.chain !== c.beacon.chain || x.beacon.round !== c.beacon.round) {
    v('V5.round', `批次 ${who} 使用的信标轮次不是承诺的轮次`, `batch ${who}: the beacon round used is not the committed one`);
  } else {
    const sig = looseHex(String(x.beacon.signature));
    const prev = typeof x.beacon.previous_signature === 'string' ? looseHex(x.beacon.previous_signature) : null;
    if (sig === null || (typeof x.beacon.previous_signature === 'string' && prev === null)) {
      v('V5.beacon', `批次 ${who} 的信标签名不是十六进制`, `batch ${who}: the beacon signature is not hex`);
    } else {
      rnd = randomness(sig);
      if (x.beacon.randomness !== toHex(rnd)) v('V5.beacon', `批次 ${who} 的信标随机数不是签名的 SHA-256`, `batch ${who}: the beacon randomness is not SHA-256 of the signature`);
      const chain = chains.get(String(c.beacon.chain));
      if (!chain) {
        found.push(finding('V5.chain', `批次 ${who} 的信标链不在信任策略中，无法核验`, `batch ${who}: the beacon chain is not in the trust policy`, UNVERIFIABLE));
      } else {
        let verdict;
        try {
          verdict = verifyBeacon(chain, { round: Number.isInteger(x.beacon.round) ? x.beacon.round : 0, signature: sig, previous_signature: prev });
        } catch (err) {
          if (!(err instanceof VerifyError)) throw err;
          verdict = 'unverifiable';
        }
        if (verdict === 'unverifiable') found.push(finding('V5.beacon', `批次 ${who} 的信标签名无法核验`, `batch ${who}: the beacon signature cannot be checked`, UNVERIFIABLE));
        else if (verdict !== 'ok') v('V5.beacon', `批次 ${who} 的信标签名无效`, `batch ${who}: the beacon signature does not verify for chain ${chain.name}`);
      }
    }
  }
  let lotteryKey = '';
  if (isObj(x.lottery)) {
    lotteryKey = String(x.lottery.key_string ?? '');
    const numbers = x.lottery.numbers ?? [];
    let recomputed = null;
    try {
      recomputed = Array.isArray(numbers) && numbers.length === 0 ? '' : lotteryKeyString(numbers);
    } catch (err) {
      if (!(err instanceof VerifyError)) throw err;
    }
    if (recomputed !== lotteryKey) v('V5.lottery', `批次 ${who} 的彩票开奖号码与密钥串不符`, `batch ${who}: the lottery key string does not encode the numbers`);
  }
  const claimed = new Map((Array.isArray(x.reveals) ? x.reveals : []).filter(isObj).map((r) => [String(r.dept), r.secret]));
  const reveals = [];
  for (const party of Array.isArray(c.parties) ? c.parties : []) {
    const dept = isObj(party) ? String(party.dept) : '';
    const secret = revealed.get(dept) ?? null;
    reveals.push([dept, secret]);
    if (secret === null) v('V6.unrevealed', `${dept} 未在批次 ${who} 抽取前揭示承诺值`, `${dept} did not reveal its secret before batch ${who} was drawn`);
    if (claimed.get(dept) !== (secret === null ? null : toHex(secret))) {
      v('V6.mismatch', `批次 ${who} 记录的 ${dept} 揭示值与日志中的揭示不符`, `batch ${who}: the recorded reveal of ${dept} differs from the log's`);
    }
  }
  if (rnd !== null) {
    const seed = drawSeed(String(c.plan_id), String(c.batch_id), ctx.commit.hash, rnd, lotteryKey, reveals);
    if ((isObj(x.outcome) ? x.outcome.seed : undefined) !== toHex(seed)) v('V8.seed', `批次 ${who} 的种子与重算结果不符`, `batch ${who}: the seed differs from the recomputed seed`);
  }
  const out = { beacon: [], reveals: [], seed: [] };
  for (const f of found) out[RULE_STEP[f.rule] ?? RULE_STEP[f.rule.split('.')[0]] ?? 'seed'].push(f);
  const o = x.outcome;
  try {
    if (!isObj(o) || !Array.isArray(o.selected) || !isObj(o.cutoffs)) throw bad('outcome 缺少 selected 或 cutoffs', 'outcome: no selected list or cutoffs');
    hex64(o.seed, 'outcome.seed');
    for (const [h, cut] of Object.entries(o.cutoffs)) hex64(cut, `outcome.cutoffs.${h}`);
  } catch (err) {
    if (!(err instanceof VerifyError)) throw err;
    out.seed.push(finding('V8.selection', `执行记录的结果格式不符：${err.zh}`, `the execution's outcome is malformed: ${err.en}`, VIOLATION));
  }
  return out;
}

function neighbours(ctx, size) {
  const code = ctx.p.uscc;
  if (ctx.p.pool) {
    if (ctx.p.pool.fields.uscc !== code) throw bad('池叶属于另一企业', "the pool leaf is another entity's");
    return;
  }
  const [left, right] = ctx.p.absent ?? [null, null];
  if (left && !(left.fields.uscc < code)) throw bad('左邻叶不排在该企业之前', 'the left neighbour does not sort before the entity');
  if (right && !(code < right.fields.uscc)) throw bad('右邻叶不排在该企业之后', 'the right neighbour does not sort after the entity');
  if (left && right && left.index + 1 !== right.index) throw bad('两个邻叶不相邻', 'the neighbours are not adjacent leaves');
  if (!left && !right && size !== 0) throw bad('池非空却没有邻叶', 'no neighbour given for a non-empty pool');
  if (!left && right && right.index !== 0) throw bad('没有左邻叶，右邻叶却不是第一个叶', 'no left neighbour, yet the right one is not the first leaf');
  if (!right && left && left.index !== size - 1) throw bad('没有右邻叶，左邻叶却不是最后一个叶', 'no right neighbour, yet the left one is not the last leaf');
}

function pool(ctx) {
  const out = [];
  const shape = ctx.spec >= 2 ? V2_LEAF : V1_LEAF;
  for (const [name, items] of [['pool', ctx.p.pool ? [ctx.p.pool] : ctx.p.absent ?? []], ['excluded', [ctx.p.excluded]]]) {
    const committed = ctx.commit.body[name];
    try {
      if (!isObj(committed) || !Number.isInteger(committed.size)) throw bad(`承诺中没有 ${name} 的根和大小`, `the commitment has no ${name} root and size`);
      const root = hex64(committed.root, `commitment ${name}.root`);
      for (const item of items) {
        if (!item) continue;
        const want = name === 'pool' ? shape : 'uscc';
        if (Object.keys(item.fields).sort().join() !== want) throw bad(`${name} 叶的成员不对`, `a ${name} leaf has not the members ${JSON.stringify(want.split(','))}`);
        verifyInclusion(item.index, committed.size, leafHash(utf8(item.leaf)), item.proof, root, 'pool');
      }
      if (name === 'pool') neighbours(ctx, committed.size);
      else if (items[0] && items[0].fields.uscc !== ctx.p.uscc) throw bad('排除叶属于另一企业', "the excluded leaf is another entity's");
    } catch (err) {
      if (!(err instanceof VerifyError)) throw err;
      out.push(finding('EPROOF.pool', `${name} 证明无效：${err.zh}`, `the ${name} evidence fails: ${err.en}`));
    }
  }
  if (!out.length && ctx.p.pool && ctx.p.excluded) {
    out.push(finding('V4.snapshot', '该企业既在检查对象池中又在排除名单中：承诺的名单与规则不符', 'the entity is both in the pool and excluded: the committed lists contradict the rule', VIOLATION));
  }
  return out;
}

function matches(rule, target) {
  for (const [name, allowed] of Object.entries(rule)) {
    const value = target[name];
    if (typeof value !== 'string' || !Array.isArray(allowed)) return false;
    if (PREFIX_FIELDS.has(name) ? !allowed.some((a) => typeof a === 'string' && value.startsWith(a)) : !allowed.includes(value)) return false;
  }
  return true;
}

function judge(rule, fields) {
  let unknown = false;
  for (const [name, allowed] of Object.entries(rule)) {
    if (!Object.hasOwn(fields, name)) unknown = true;
    else if (!matches({ [name]: allowed }, fields)) return false;
  }
  return unknown ? null : true;
}

function poolRule(batch) {
  const rule = { registry: batch.pool.registries };
  for (const name of ['industry', 'region', 'status', 'risk', 'unit']) if (Object.hasOwn(batch.pool, name)) rule[name] = batch.pool[name];
  return rule;
}

function fate(ctx) {
  const outcome = ctx.execution.body.outcome;
  const code = ctx.p.uscc;
  const out = [];
  const selected = new Map(outcome.selected.filter(isObj).map((s) => [s.uscc, s]));
  const answer = { uscc: code, draw: ctx.p.draw, in_pool: ctx.p.pool !== null, excluded: ctx.p.excluded !== null, candidates: [], drawn: null, team: null, unfillable: false };
  if (!ctx.p.pool) {
    Object.assign(answer, { verdict: ctx.p.excluded ? 'excluded' : 'not_in_pool', drawn: false });
    if (selected.has(code)) out.push(finding('V8.selection', '执行记录抽中了不在已承诺检查对象池中的该企业', 'the execution drew this entity, which is not in the committed pool', VIOLATION));
    return [out, answer];
  }
  const fields = ctx.p.pool.fields;
  answer.leaf_index = ctx.p.pool.index;
  let seed;
  let strata;
  let rule;
  try {
    seed = fromHex(outcome.seed, 32, 'fate', 'outcome.seed');
    strata = ctx.batch.strata.map((s) => [String(s.id), s.filter]);
    rule = poolRule(ctx.batch);
  } catch (err) {
    if (!(err instanceof VerifyError) && !(err instanceof TypeError)) throw err;
    return [[finding('EPROOF.plan', `计划批次缺少分层或范围：${err.message}`, `the plan's batch lacks its strata or pool rule: ${err.message}`)], answer];
  }
  let candidates = [];
  for (const [h, filt] of strata) {
    const judged = judge(isObj(filt) ? filt : { '': [] }, fields);
    if (judged === false) continue;
    candidates.push(h);
    if (judged) break;
  }
  if (Object.hasOwn(fields, 'stratum')) {
    if (candidates.length !== 1 || candidates[0] !== fields.stratum) {
      out.push(finding('V4.pool_rule', `对象 ${code} 的分层不是计划中首个匹配的分层`, `pool member ${code} is not in its first matching stratum`, VIOLATION));
    }
    candidates = [fields.stratum];
  }
  if (judge(rule, fields) === false || !candidates.length) {
    out.push(finding('V4.pool_rule', `对象 ${code} 不符合计划的抽查范围或任何分层`, `pool member ${code} is outside the plan's pool rule or every stratum`, VIOLATION));
  }
  const sample = (isObj(ctx.commit.body.pool) && isObj(ctx.commit.body.pool.sample)) ? ctx.commit.body.pool.sample : {};
  for (const h of candidates) {
    const score = toHex(targetScore(seed, h, code));
    const cutoff = Object.hasOwn(outcome.cutoffs, h) ? outcome.cutoffs[h] : null;
    if (cutoff === null && (sample[h] ?? 0) !== 0) {
      out.push(finding('V8.selection', `第 ${h} 层应抽取 ${sample[h]} 个对象，但执行记录没有该层分界`, `stratum ${h} samples ${sample[h]} but the execution gives no cut-off`, VIOLATION));
    }
    answer.candidates.push({ stratum: h, score, cutoff, drawn: cutoff !== null && compareBytes(fromHex(score, 32, 'fate', 'score'), fromHex(cutoff, 32, 'fate', 'cutoff')) <= 0 });
  }
  const fates = new Set(answer.candidates.map((x) => x.drawn));
  answer.verdict = fates.size > 1 ? 'depends_on_internal_field' : fates.has(true) ? 'drawn' : 'not_drawn';
  const listed = selected.get(code);
  answer.drawn = listed !== undefined;
  if (!fates.has(listed !== undefined) || (listed && Object.hasOwn(listed, 'stratum') &&
      (listed.stratum !== candidates[0] || listed.score !== answer.candidates[0]?.score))) {
    out.push(finding('V8.selection', `执行记录与抽取规则不符（按得分与分界，该企业${listed ? '不应被抽中' : '应被抽中'}）`,
      `the execution contradicts the draw rule (by its score and the cut-off, this entity should ${listed ? 'not ' : ''}have been drawn)`, VIOLATION));
  }
  if (listed) {
    let team = (Array.isArray(listed.team) ? listed.team : []).map(String);
    for (const e of ctx.after) {
      if (e.type !== 'draw.substituted') continue;
      const nu = e.body.in;
      team = team.filter((c) => c !== e.body.out || nu !== null).map((c) => (c === e.body.out ? String(nu) : c));
    }
    answer.team = team;
    answer.unfillable = (Array.isArray(outcome.unfillable) ? outcome.unfillable : []).some((u) => isObj(u) && u.uscc === code);
  }
  return [out, answer];
}

function record(result, step, problems) {
  if (!problems.length) {
    result.steps.push({ step, ok: true, kind: null, rule: null, zh: `${STEP_ZH[step]}：通过`, en: `${step}: passed` });
    return;
  }
  const rank = { [INTEGRITY]: 0, [UNVERIFIABLE]: 1, [VIOLATION]: 2 };
  const sorted = [...problems].sort((a, b) => (rank[a.kind] ?? 3) - (rank[b.kind] ?? 3));
  result.steps.push({ step, ok: false, kind: sorted[0].kind, rule: sorted[0].rule,
    zh: `${STEP_ZH[step]}：失败：${sorted.map((f) => f.zh).join('；')}`, en: `${step}: failed: ${sorted.map((f) => f.en).join('; ')}` });
}

/** The exit status of SPEC 9.3 for a result: 2 integrity, 3 unverifiable, 1 violation, 0 clean. */
export function exitCode(result) {
  const kinds = new Set(result.steps.filter((s) => !s.ok).map((s) => s.kind));
  for (const k of [INTEGRITY, UNVERIFIABLE, VIOLATION]) if (kinds.has(k)) return EXIT[k];
  return EXIT.clean;
}

/**
 * Run the steps of SPEC.md 22.2 on a proof file's bytes with an optional pinned trust
 * policy (the parsed trust.json, src/trust.mjs): {format, exit_code, draw, uscc,
 * trust_source, steps, answer}. NotAnEntityProof when the file does not name the format;
 * otherwise every fault is a failed step, never an exception.
 */
export function verifyEntityProof(data, trust = null, { expectDraw = null } = {}) {
  const bytes = typeof data === 'string' ? utf8(data) : data;
  if (!new TextDecoder('utf-8').decode(bytes).includes(FORMAT)) {
    throw new NotAnEntityProof('usage', `不是抽取结果证明：文件中没有 ${FORMAT}`, `not an entity proof: the file does not name ${FORMAT}`);
  }
  const result = { format: FORMAT, exit_code: 0, draw: '', uscc: '', trust_source: trust ? 'pinned' : 'file', steps: [], answer: null };
  const finish = () => Object.assign(result, { exit_code: exitCode(result) });
  let p;
  try {
    p = parse(bytes, expectDraw);
  } catch (err) {
    if (!(err instanceof VerifyError)) throw err;
    record(result, 'format', [finding('EPROOF.format', `证明文件格式错误：${err.zh}`, `the proof file is malformed: ${err.en}`)]);
    return finish();
  }
  Object.assign(result, { draw: p.draw, uscc: p.uscc });
  record(result, 'format', []);
  const ctx = { p, trust: trust ?? p.trust, pinned: trust !== null, spec: 1, after: [], reveals: [] };
  for (const [name, run] of [['proofs', proofs], ['genesis', genesis], ['signatures', signatures], ['plan', plan], ['stream', stream]]) {
    const problems = run(ctx);
    record(result, name, problems);
    if (problems.some((f) => f.kind === INTEGRITY)) return finish();
  }
  for (const [name, problems] of Object.entries(drawChecks(ctx))) record(result, name, problems);
  const poolProblems = pool(ctx);
  record(result, 'pool', poolProblems);
  if (poolProblems.some((f) => f.kind === INTEGRITY)) return finish();
  const [problems, answer] = fate(ctx);
  result.answer = answer;
  record(result, 'fate', problems);
  return finish();
}

