// Warming the BLS12-381 code before the user presses verify: the first pairing in a fresh
// page compiles and tunes noble's field arithmetic, which costs several times a warm
// check. The verification page runs this once in the background after loading the trust
// policy; it changes no verdict (nothing is cached but the chains' decoded public keys).
import { fromHex } from './bytes.mjs';
import { KNOWN_CHAINS, verifyBeacon } from './drand.mjs';

// LoE quicknet round 657413 (tests/vectors/drand.json, from mcdcam/python-drand-verify).
const QUICKNET_ROUND = 657413;
const QUICKNET_SIGNATURE = 'b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b';

/**
 * Verify the pinned quicknet vector once, and decode each pinned chain's public key (a
 * check of the identity point, refused at once after the key is decoded). Returns
 * whether the quicknet vector verified: false means this browser's BLS code is broken.
 */
export function warmBls(chains = []) {
  const ok = verifyBeacon(KNOWN_CHAINS['loe-quicknet'], {
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
