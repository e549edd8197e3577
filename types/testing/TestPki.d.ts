// ArkTS-facing declaration of tools/testing/TestPki.ts (Node-only test support, imported by .ets suites as
// 'types/testing/TestPki' (a relative import)). Only the surface the verifier suites use; Buffers are declared as the Uint8Array they are.

/** Options of createTestPki (all optional; Dates are certificate validity bounds). */
export interface TestPkiOptions {
  notBefore?: Date;
  notAfter?: Date;
  leafNotBefore?: Date;
  leafNotAfter?: Date;
  intermediateNotBefore?: Date;
  intermediateNotAfter?: Date;
  /** Default true: the leaf carries the non-critical extension 1.3.6.1.4.1.2011.2.415.1.1. */
  leafOid?: boolean;
  /** Default true: basicConstraints CA:true on the intermediate. */
  intermediateCa?: boolean;
  /** Issuer DN written into the leaf instead of the intermediate's subject (still signed by the intermediate). */
  leafIssuerName?: string;
  /** Issuer DN written into the intermediate instead of the root's subject (still signed by the root). */
  intermediateIssuerName?: string;
  subjectPrefix?: string;
  /** Reuse this PKI's root (same pinned root, new intermediate and leaf). */
  parent?: TestPki;
  /** With parent: also reuse its intermediate (new leaf only). */
  shareIntermediate?: boolean;
}

/** JWS header fields that replace the defaults {"alg":"ES256","typ":"JWT","x5c":[leaf, intermediate, root]}. */
export interface JwsHeaderOverride {
  alg?: string;
  typ?: string;
  x5c?: string[];
}

/** A P-256 root → intermediate → leaf chain that signs JWS like IAP Kit does. */
export interface TestPki {
  readonly rootPem: string;
  readonly rootDer: Uint8Array;
  readonly intermediateDer: Uint8Array;
  readonly leafDer: Uint8Array;
  /** Standard Base64 DER: [leaf, intermediate, root]. */
  x5c(): string[];
  /** Compact JWS over JSON.stringify(payload), ES256 raw r||s signature by the leaf. */
  signJws(payload: Object, header?: JwsHeaderOverride): string;
}

export declare function createTestPki(opts?: TestPkiOptions): Promise<TestPki>;

export declare const IAP_LEAF_OID: string;
