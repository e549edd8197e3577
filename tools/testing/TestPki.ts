/**
 * TestPki — test certificate chains and JWS signed exactly like Huawei IAP Kit does (TEST / DEV ONLY).
 *
 *   const pki = await createTestPki();                  // fresh P-256 root → intermediate → leaf
 *   const jws = pki.signJws({ purchaseOrderId: 'o1' }); // header {"alg":"ES256","typ":"JWT","x5c":[leaf,int,root]}
 *   fs.writeFileSync('root.pem', pki.rootPem);          // pin this root in the verifier
 *
 * API (stable; shared by the server, the IAP Kit simulator, the engine tests and the benchmarks):
 *   createTestPki(opts?: TestPkiOptions): Promise<TestPki>
 *     opts.notBefore / opts.notAfter            validity of all three certificates (default now-1d … now+10y)
 *     opts.leafNotBefore / opts.leafNotAfter    override the leaf validity only (expired / not-yet-valid leaf)
 *     opts.intermediateNotBefore / ...NotAfter  override the intermediate validity only
 *     opts.leafOid                              default true: leaf carries the NON-critical extension
 *                                               1.3.6.1.4.1.2011.2.415.1.1 (value DER NULL); false = omitted
 *     opts.intermediateCa                       default true: basicConstraints CA:true on the intermediate
 *                                               (false: CA:false but keyUsage still keyCertSign)
 *     opts.extraLeafOids / extraIntermediateOids  more non-critical marker extensions (value DER NULL), e.g.
 *                                               Apple's 1.2.840.113635.100.6.11.1 / 1.2.840.113635.100.6.2.1
 *     opts.leafCrlUrl / intermediateCrlUrl      add a CRLDistributionPoints extension with this URI
 *     opts.leafIssuerName / intermediateIssuerName  override the issuer DN written into that certificate
 *                                               (forgeries: claim a genuine issuer while signing with another key)
 *     opts.subjectPrefix                        CN prefix (default "Test IAP")
 *     opts.parent                               reuse parent's ROOT (same rootPem/rootDer/keys): a new intermediate
 *                                               and leaf under the same pinned root (distinct chains, one root)
 *     opts.shareIntermediate                    with parent: also reuse parent's intermediate, new leaf only
 *   A second, unrelated PKI (foreign root): just call createTestPki() again.
 *
 *   interface TestPki {
 *     rootPem: string; rootDer: Buffer; intermediateDer: Buffer; leafDer: Buffer;
 *     rootPrivateKey / intermediatePrivateKey / leafPrivateKey: crypto.KeyObject;
 *     x5c(): string[]                                  // base64 (standard) DER: [leaf, intermediate, root]
 *     signJws(payload: object, header?: Partial<JwsHeader>): string
 *         // compact JWS; header defaults {"alg":"ES256","typ":"JWT","x5c":x5c()}; fields given in `header`
 *         // override (header.x5c replaces the chain). Signature: ES256 raw r||s (64 bytes, ieee-p1363), base64url.
 *     toJSON(): TestPkiJson                            // persistable (includes PRIVATE KEYS: dev/test only)
 *   }
 *   loadTestPki(json: TestPkiJson): TestPki            // inverse of toJSON()
 *   signCompactJws(key, header: object, payload: object | string): string   // low-level ES256 signer
 *   createTestCrl(pki, { issuer: 'intermediate' | 'root', revoked?: Buffer[] (cert DERs), thisUpdate?, nextUpdate? })
 *       : Promise<Buffer>                                // DER CRL signed by that CA of the PKI
 *   base64url(data: Buffer | string): string
 *   subjectName(der: Buffer): string                  // subject DN of a certificate
 *   IAP_LEAF_OID = '1.3.6.1.4.1.2011.2.415.1.1'
 */
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const IAP_LEAF_OID = '1.3.6.1.4.1.2011.2.415.1.1';

export interface JwsHeader {
  alg: string;
  typ: string;
  x5c: string[];
}

export interface TestPkiOptions {
  notBefore?: Date;
  notAfter?: Date;
  leafNotBefore?: Date;
  leafNotAfter?: Date;
  intermediateNotBefore?: Date;
  intermediateNotAfter?: Date;
  leafOid?: boolean;
  intermediateCa?: boolean;
  extraLeafOids?: string[];
  extraIntermediateOids?: string[];
  leafCrlUrl?: string;
  intermediateCrlUrl?: string;
  leafIssuerName?: string;
  intermediateIssuerName?: string;
  subjectPrefix?: string;
  parent?: TestPki;
  shareIntermediate?: boolean;
}

export interface TestPkiJson {
  rootDer: string;
  intermediateDer: string;
  leafDer: string;
  rootKeyPkcs8: string;
  intermediateKeyPkcs8: string;
  leafKeyPkcs8: string;
}

export interface TestPki {
  readonly rootPem: string;
  readonly rootDer: Buffer;
  readonly intermediateDer: Buffer;
  readonly leafDer: Buffer;
  readonly rootPrivateKey: crypto.KeyObject;
  readonly intermediatePrivateKey: crypto.KeyObject;
  readonly leafPrivateKey: crypto.KeyObject;
  x5c(): string[];
  signJws(payload: object, header?: Partial<JwsHeader>): string;
  toJSON(): TestPkiJson;
}

export function base64url(data: Buffer | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64url');
}

/** Signs `header.payload` with ES256 (raw r||s). `payload` may be an object (JSON-encoded) or a ready string. */
export function signCompactJws(key: crypto.KeyObject, header: object, payload: object | string): string {
  const h = base64url(JSON.stringify(header));
  const p = base64url(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const signingInput = `${h}.${p}`;
  const sig = crypto.sign('sha256', Buffer.from(signingInput, 'ascii'), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${base64url(sig)}`;
}

function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

class TestPkiImpl implements TestPki {
  readonly rootPem: string;
  private readonly chain: string[];

  constructor(
    readonly rootDer: Buffer,
    readonly intermediateDer: Buffer,
    readonly leafDer: Buffer,
    readonly rootPrivateKey: crypto.KeyObject,
    readonly intermediatePrivateKey: crypto.KeyObject,
    readonly leafPrivateKey: crypto.KeyObject,
  ) {
    this.rootPem = derToPem(rootDer);
    this.chain = [leafDer.toString('base64'), intermediateDer.toString('base64'), rootDer.toString('base64')];
  }

  x5c(): string[] {
    return [...this.chain];
  }

  signJws(payload: object, header?: Partial<JwsHeader>): string {
    const h = { alg: 'ES256', typ: 'JWT', x5c: this.x5c(), ...(header ?? {}) };
    return signCompactJws(this.leafPrivateKey, h, payload);
  }

  toJSON(): TestPkiJson {
    const pk = (k: crypto.KeyObject): string => k.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    return {
      rootDer: this.rootDer.toString('base64'),
      intermediateDer: this.intermediateDer.toString('base64'),
      leafDer: this.leafDer.toString('base64'),
      rootKeyPkcs8: pk(this.rootPrivateKey),
      intermediateKeyPkcs8: pk(this.intermediatePrivateKey),
      leafKeyPkcs8: pk(this.leafPrivateKey),
    };
  }
}

export function loadTestPki(json: TestPkiJson): TestPki {
  const key = (b64: string): crypto.KeyObject =>
    crypto.createPrivateKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'pkcs8' });
  return new TestPkiImpl(
    Buffer.from(json.rootDer, 'base64'),
    Buffer.from(json.intermediateDer, 'base64'),
    Buffer.from(json.leafDer, 'base64'),
    key(json.rootKeyPkcs8),
    key(json.intermediateKeyPkcs8),
    key(json.leafKeyPkcs8),
  );
}

// ---------------------------------------------------------------------------------------------------------------

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DER_NULL = new Uint8Array([0x05, 0x00]);
const DAY = 86_400_000;

type WebKeyPair = { privateKey: CryptoKey; publicKey: CryptoKey };
type CryptoKey = crypto.webcrypto.CryptoKey;

async function generateKeys(): Promise<WebKeyPair> {
  return (await crypto.webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as WebKeyPair;
}

async function importPrivate(key: crypto.KeyObject): Promise<CryptoKey> {
  const der = key.export({ type: 'pkcs8', format: 'der' });
  return crypto.webcrypto.subtle.importKey('pkcs8', der, EC_ALG, true, ['sign']);
}

function serial(): string {
  const b = crypto.randomBytes(12);
  b[0] = (b[0] ?? 0) & 0x7f | 0x01; // positive, non-zero leading byte
  return b.toString('hex');
}

/** The subject DN of a DER certificate, as a string usable for leafIssuerName / intermediateIssuerName. */
export function subjectName(der: Buffer): string {
  return new x509.X509Certificate(der).subject;
}

// The @peculiar/x509 typings use DOM CryptoKey; node's webcrypto keys are structurally the same at runtime.
type X509Key = x509.X509CertificateCreateWithKeyParams['signingKey'];
const asX509 = (k: CryptoKey): X509Key => k as unknown as X509Key;

let uniq = 0;

export async function createTestPki(opts: TestPkiOptions = {}): Promise<TestPki> {
  const now = Date.now();
  const notBefore = opts.notBefore ?? new Date(now - DAY);
  const notAfter = opts.notAfter ?? new Date(now + 3650 * DAY);
  const prefix = opts.subjectPrefix ?? 'Test IAP';
  const tag = `${process.pid}-${++uniq}`;

  // Root: reused from parent or freshly generated.
  let rootDer: Buffer;
  let rootPriv: crypto.KeyObject;
  let rootSigningKey: CryptoKey;
  if (opts.parent) {
    rootDer = opts.parent.rootDer;
    rootPriv = opts.parent.rootPrivateKey;
    rootSigningKey = await importPrivate(rootPriv);
  } else {
    const rootKeys = await generateKeys();
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${prefix} Root CA ${tag}, O=Test, C=CN`,
      notBefore,
      notAfter,
      signingAlgorithm: SIGN_ALG,
      keys: { privateKey: asX509(rootKeys.privateKey), publicKey: asX509(rootKeys.publicKey) },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    rootDer = Buffer.from(rootCert.rawData);
    rootPriv = crypto.KeyObject.from(rootKeys.privateKey);
    rootSigningKey = rootKeys.privateKey;
  }

  // Intermediate: reused from parent (shareIntermediate) or freshly issued by the root.
  let intDer: Buffer;
  let intPriv: crypto.KeyObject;
  let intSigningKey: CryptoKey;
  if (opts.parent && opts.shareIntermediate) {
    intDer = opts.parent.intermediateDer;
    intPriv = opts.parent.intermediatePrivateKey;
    intSigningKey = await importPrivate(intPriv);
  } else {
    const intKeys = await generateKeys();
    const ca = opts.intermediateCa ?? true;
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(ca, ca ? 0 : undefined, true),
      // keyCertSign even when ca=false, so that only the basicConstraints check can catch a non-CA intermediate.
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ...(opts.extraIntermediateOids ?? []).map((oid) => new x509.Extension(oid, false, DER_NULL)),
    ];
    if (opts.intermediateCrlUrl) extensions.push(new x509.CRLDistributionPointsExtension([opts.intermediateCrlUrl]));
    const intCert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${prefix} Intermediate CA ${tag}, O=Test, C=CN`,
      issuer: opts.intermediateIssuerName ?? subjectName(rootDer),
      notBefore: opts.intermediateNotBefore ?? notBefore,
      notAfter: opts.intermediateNotAfter ?? notAfter,
      signingAlgorithm: SIGN_ALG,
      publicKey: asX509(intKeys.publicKey),
      signingKey: asX509(rootSigningKey),
      extensions,
    });
    intDer = Buffer.from(intCert.rawData);
    intPriv = crypto.KeyObject.from(intKeys.privateKey);
    intSigningKey = intKeys.privateKey;
  }

  // Leaf: always fresh, issued by the intermediate.
  const leafKeys = await generateKeys();
  const leafExtensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  ];
  if (opts.leafOid ?? true) leafExtensions.push(new x509.Extension(IAP_LEAF_OID, false, DER_NULL));
  for (const oid of opts.extraLeafOids ?? []) leafExtensions.push(new x509.Extension(oid, false, DER_NULL));
  if (opts.leafCrlUrl) leafExtensions.push(new x509.CRLDistributionPointsExtension([opts.leafCrlUrl]));
  const leafCert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${prefix} IAP Signing Leaf ${tag}, O=Test, C=CN`,
    issuer: opts.leafIssuerName ?? subjectName(intDer),
    notBefore: opts.leafNotBefore ?? notBefore,
    notAfter: opts.leafNotAfter ?? notAfter,
    signingAlgorithm: SIGN_ALG,
    publicKey: asX509(leafKeys.publicKey),
    signingKey: asX509(intSigningKey),
    extensions: leafExtensions,
  });

  return new TestPkiImpl(
    rootDer,
    intDer,
    Buffer.from(leafCert.rawData),
    rootPriv,
    intPriv,
    crypto.KeyObject.from(leafKeys.privateKey),
  );
}

export interface TestCrlOptions {
  issuer: 'intermediate' | 'root';
  /** DER certificates to list as revoked. */
  revoked?: Buffer[];
  thisUpdate?: Date;
  nextUpdate?: Date;
}

/** A DER CRL issued by the PKI's intermediate or root. */
export async function createTestCrl(pki: TestPki, opts: TestCrlOptions): Promise<Buffer> {
  const issuerDer = opts.issuer === 'root' ? pki.rootDer : pki.intermediateDer;
  const key = await importPrivate(opts.issuer === 'root' ? pki.rootPrivateKey : pki.intermediatePrivateKey);
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create({
    issuer: subjectName(issuerDer),
    thisUpdate: opts.thisUpdate ?? new Date(now - 60_000),
    nextUpdate: opts.nextUpdate ?? new Date(now + DAY),
    signingAlgorithm: SIGN_ALG,
    signingKey: asX509(key),
    entries: (opts.revoked ?? []).map((der) => ({
      serialNumber: new crypto.X509Certificate(der).serialNumber,
      revocationDate: new Date(now - 60_000),
    })),
  });
  return Buffer.from(crl.rawData);
}
