// What the verifier takes from @noble/hashes and @noble/curves: build.mjs bundles only
// these (and what they import) into vendor/noble.mjs, so nothing else ships.
export { sha256 } from '@noble/hashes/sha2.js';
export { hmac } from '@noble/hashes/hmac.js';
export { ed25519 } from '@noble/curves/ed25519.js';
export { bls12_381 } from '@noble/curves/bls12-381.js';
