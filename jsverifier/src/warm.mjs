// Warming the BLS12-381 and Ed25519 code before the user presses verify: the first
// pairing in a fresh page compiles and tunes noble's field arithmetic, and the first
// Ed25519 check builds the base point's tables, each costing several warm checks. The
// verification page runs this once in the background after loading the trust policy; it
// changes no verdict (nothing is cached but noble's tables and the chains' decoded keys).
import { fromHex } from './bytes.mjs';
import { KNOWN_CHAINS, verifyBeacon } from './drand.mjs';
import { ed25519Verify } from './note.mjs';

// LoE quicknet round 657413 (tests/vectors/drand.json, from mcdcam/python-drand-verify).
const QUICKNET_ROUND = 657413;
const QUICKNET_SIGNATURE = 'b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b';
// RFC 8032 section 7.1, TEST 1: the empty message.
const ED25519_KEY = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const ED25519_SIGNATURE = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

/**
 * Verify the pinned quicknet vector and RFC 8032's first Ed25519 vector once, and decode
 * each pinned chain's public key (a check of the identity point, refused at once after
 * the key is decoded). Returns whether both vectors verified: false means this browser's
 * cryptography is broken.
 */
export function warmBls(chains = []) {
  const ed = ed25519Verify(fromHex(ED25519_KEY, 32, 'warm', 'key'), new Uint8Array(0), fromHex(ED25519_SIGNATURE, 64, 'warm', 'signature'));
  const ok = ed && verifyBeacon(KNOWN_CHAINS['loe-quicknet'], {
    round: QUICKNET_ROUND, signature: fromHex(QUICKNET_SIGNATURE, 48, 'warm', 'signature'), previous_signature: null,
  }) === 'ok';
  const identity = new Uint8Array(48);
  identity[0] = 0xc0;
  for (const chain of chains) {
    try {
      if (chain.scheme === 'bls-unchained-g1-rfc9380') verifyBeacon(chain, { round: 1, signature: identity, previous_signature: null });
    } catch {
      // a chain whose key does not decode fails in the proof's own check, with its reason
    }
  }
  return ok;
}
