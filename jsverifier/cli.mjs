#!/usr/bin/env node
// The JavaScript verifier from a shell, for cross-checks against the Python one and for
// people without a browser. Each command prints one JSON verdict per input:
//   node jsverifier/cli.mjs canonical FILE|-            bytes in the canonical profile?
//   node jsverifier/cli.mjs entry FILE|- [--vkey VKEY]   an entry, and its statement signature
//   node jsverifier/cli.mjs receipt FILE|- --trust T     a receipt (SPEC.md 18.2)
//   node jsverifier/cli.mjs check-many                  JSON lines of cases on stdin (below)
// Exit status: 0 every verdict ok, 2 some verdict failed, 64 usage error.
// A check-many case is {"op": ..., ...}: canonical {hex}; entry {hex, vkey?}; batch
// {entries: [hex], vkey}; receipt {hex, trust}; beacon {chain, round, signature,
// previous_signature}; tlog-proof {text, entry_hex, trust}; entity-proof {hex, trust?, draw?}.
import { readFileSync } from 'node:fs';
import { verdict } from './src/errors.mjs';
import { fromHex, toHex } from './src/bytes.mjs';
import { parseCanonical } from './src/canonical.mjs';
import { parseEntry, verifyBatch, verifyStatement } from './src/entry.mjs';
import { parseVkey } from './src/note.mjs';
import { verifyReceipt } from './src/receipt.mjs';
import { loadTrust, parseTrust } from './src/trust.mjs';
import { parseChain, randomness, verifyBeacon } from './src/drand.mjs';
import { parseTlogProof, verifyTlogProof } from './src/tlogproof.mjs';
import { verifyEntityProof } from './src/entityproof.mjs';

const USAGE = 64;

function usage(message) {
  process.stderr.write(`用法错误 / usage: ${message}\n`);
  process.exit(USAGE);
}

function read(path) {
  try {
    return new Uint8Array(readFileSync(path === '-' ? 0 : path));
  } catch (err) {
    return usage(`无法读取 / cannot read ${path}: ${err.message}`);
  }
}

const bin = (hex) => fromHex(hex, null, 'input', 'hex');

function entryVerdict(raw, vkey) {
  const entry = parseEntry(raw);
  if (vkey && !entry.sig.sid.startsWith('batch/')) verifyStatement(entry, parseVkey(vkey)); // a member's is the batch's
  return { hash: toHex(entry.hash), seq: entry.seq };
}

const OPS = {
  canonical: (c) => parseCanonical(bin(c.hex)),
  entry: (c) => entryVerdict(bin(c.hex), c.vkey),
  batch: (c) => {
    verifyBatch(c.entries.map((h) => parseEntry(bin(h))), parseVkey(c.vkey));
    return null;
  },
  receipt: (c) => {
    const r = verifyReceipt(bin(c.hex), parseTrust(c.trust));
    return { seq: r.entry.seq, proved: r.proved };
  },
  beacon: (c) => {
    const b = { round: c.round, signature: bin(c.signature), previous_signature: c.previous_signature ? bin(c.previous_signature) : null };
    return { beacon: verifyBeacon(parseChain(c.chain), b), randomness: toHex(randomness(b.signature)) };
  },
  'entity-proof': (c) => {
    const r = verifyEntityProof(bin(c.hex), c.trust ? parseTrust(c.trust) : null, { expectDraw: c.draw ?? null });
    const failed = r.steps.find((s) => !s.ok);
    return { exit_code: r.exit_code, verdict: r.answer?.verdict ?? null, step: failed?.step ?? null, rule: failed?.rule ?? null, answer: r.answer };
  },
  'tlog-proof': (c) => {
    const t = parseTrust(c.trust);
    const { checkpoint } = verifyTlogProof(parseTlogProof(c.text), parseEntry(bin(c.entry_hex)).hash, t.logKey, t.origin, t.witnesses);
    return { size: String(checkpoint.size) };
  },
};

function print(v) {
  process.stdout.write(`${JSON.stringify(v)}\n`);
  return v.ok;
}

function option(args, name) {
  const i = args.indexOf(name);
  if (i < 0) return null;
  if (i + 1 >= args.length) usage(`${name} 需要一个值 / needs a value`);
  return args.splice(i, 2)[1];
}

const [command, ...args] = process.argv.slice(2);
let ok = true;
if (command === 'canonical' && args.length === 1) {
  ok = print(verdict(() => parseCanonical(read(args[0]))));
} else if (command === 'entry') {
  const vkey = option(args, '--vkey');
  if (args.length !== 1) usage('entry FILE|- [--vkey VKEY]');
  ok = print(verdict(() => entryVerdict(read(args[0]), vkey)));
} else if (command === 'receipt') {
  const trustPath = option(args, '--trust');
  if (args.length !== 1 || !trustPath) usage('receipt FILE|- --trust trust.json');
  const trust = verdict(() => loadTrust(read(trustPath)));
  if (!trust.ok) usage(`${trust.zh} / ${trust.en}`);
  ok = print(verdict(() => {
    const r = verifyReceipt(read(args[0]), trust.value);
    return { seq: r.entry.seq, proved: r.proved };
  }));
} else if (command === 'check-many' && args.length === 0) {
  const lines = new TextDecoder().decode(read('-')).split('\n').filter((l) => l.length);
  for (const [i, line] of lines.entries()) {
    let c;
    try {
      c = JSON.parse(line);
    } catch {
      usage(`第 ${i + 1} 行不是 JSON / line ${i + 1} is not JSON`);
    }
    const op = OPS[c?.op];
    if (!op) usage(`第 ${i + 1} 行：未知操作 / line ${i + 1}: unknown op ${JSON.stringify(c?.op)}`);
    ok = print(verdict(() => op(c))) && ok;
  }
} else {
  usage('canonical FILE | entry FILE [--vkey V] | receipt FILE --trust T | check-many');
}
process.exitCode = ok ? 0 : 2;
