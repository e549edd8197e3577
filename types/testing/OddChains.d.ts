// ArkTS-facing declaration of tools/testing/OddChains.ts (Node-only test support, imported by .ets suites as
// 'types/testing/OddChains' (a relative import)): JWS with the chains and signatures TestPki's options do not produce.
import { TestPki } from './TestPki';

/** x5c [leaf issued directly by the root, root, root]: the "intermediate" is the pinned root itself. */
export declare function leafIssuedByRoot(pki: TestPki, payload: Object): Promise<string>;

/** A leaf with basicConstraints cA TRUE (and the IAP OID), issued by the pki's intermediate (pathLen 0). */
export declare function caLeaf(pki: TestPki, payload: Object): Promise<string>;

/** x5c [root, root, root], signed with the root's key. */
export declare function pinnedRootAsLeaf(pki: TestPki, payload: Object): string;

/** A genuine leaf + intermediate with another PKI's root as x5c[2]. */
export declare function withForeignX5cRoot(pki: TestPki, foreign: TestPki, payload: Object): string;

/** The pki's leaf re-issued as an X.509 v1 certificate (no extensions), properly signed by the intermediate. */
export declare function v1Leaf(pki: TestPki, payload: Object): string;

/** The same JWS with s replaced by n − s (the other valid ECDSA signature). */
export declare function withFlippedS(jws: string): string;

/** Whether the JWS's s lies in the upper half of the P-256 group order. */
export declare function hasHighS(jws: string): boolean;

/** The P-256 group order n as 64 hex digits. */
export declare const P256_ORDER_HEX: string;

/** Signs the header and payload texts exactly as given (duplicate keys and odd types survive) with the leaf key. */
export declare function signRaw(pki: TestPki, headerJson: string, payloadText: string): string;

/** One odd chain and the verdict both verifiers give it ('valid' or a RejectionReason code). */
export declare interface OddCertificateVector {
  name: string;
  jws: string;
  expected: string;
}

/**
 * Certificates with odd extensions, non-canonical encodings, expired intermediates and roots in the wrong place; the
 * server hardening suite runs the same table.
 */
export declare function oddCertificateVectors(pki: TestPki, payload: Object): Promise<OddCertificateVector[]>;
