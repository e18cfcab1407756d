// Typed verification failures. Every failure names the step that failed and says why in
// Simplified Chinese and in English, because the page shows 通过 / 失败 with the reason.
// The classes follow the Python verifier's (verifier/_errors.py), so both sort a fault
// alike: bad input (format), tampering (integrity) or a missing trust anchor (trust).

/** Root of every failure the verifier raises. */
export class VerifyError extends Error {
  /**
   * @param {string} step  the check that failed, e.g. "canonical", "note", "inclusion"
   * @param {string} zh    the reason in Simplified Chinese
   * @param {string} en    the reason in English
   */
  constructor(step, zh, en) {
    super(`${step}: ${en}`);
    this.name = this.constructor.name;
    this.step = step;
    this.zh = zh;
    this.en = en;
  }

  /** The kind shown to a machine reader: format, canonical, integrity, signature, proof, trust. */
  get kind() {
    return 'error';
  }

  /** A plain object for the page and the CLI. */
  toJSON() {
    return { kind: this.kind, step: this.step, zh: this.zh, en: this.en };
  }
}

/** Bytes that do not parse as SPEC.md specifies. */
export class FormatError extends VerifyError {
  get kind() { return 'format'; }
}

/** JSON outside the canonical profile (SPEC.md section 2). */
export class CanonicalError extends FormatError {
  get kind() { return 'canonical'; }
}

/** Well-formed data that does not check out. */
export class IntegrityError extends VerifyError {
  get kind() { return 'integrity'; }
}

/** A signature that does not verify under the key it names. */
export class SignatureError extends IntegrityError {
  get kind() { return 'signature'; }
}

/** A Merkle proof that does not lead to the claimed root. */
export class ProofError extends IntegrityError {
  get kind() { return 'proof'; }
}

/** A trust input (key, policy, chain) is missing or unusable, so nothing can be judged. */
export class TrustError extends VerifyError {
  get kind() { return 'trust'; }
}

/**
 * The verdict of a check as a plain object: {ok: true, ...value} or the failure's
 * fields. Anything that is not a VerifyError is a bug and is thrown on.
 */
export function verdict(fn) {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof VerifyError) return { ok: false, ...err.toJSON() };
    throw err;
  }
}
