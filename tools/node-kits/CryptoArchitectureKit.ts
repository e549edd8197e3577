// Node implementation of the `cryptoFramework` subset of @kit.CryptoArchitectureKit that the project uses,
// over node:crypto, with the device's semantics:
// - createAsyKeyGenerator('ECC224'|'ECC256'|'ECC384'|'ECC521').convertKey(pubKey, priKey): the public key is an
//   X.509 SubjectPublicKeyInfo DER; a key of another curve, or bytes that are not such a key, fail with 17630001;
// - createVerify('ECC256|SHA256' …, or 'ECC|SHA256'): init(pubKey) / update(data) / verify(data, signature), the
//   ECDSA signature in DER (Ecdsa-Sig-Value), as the ECC verifier of cryptoFramework expects it; verify() resets
//   the accumulated data, init() must come first;
// - DataBlob is `{ data: Uint8Array }`; anything else is a 401 parameter error.
// Private keys, RSA/SM2/Ed25519 and the *Sync variants are not needed by the project and throw here.
import * as crypto from 'node:crypto';
import { BusinessError } from './BasicServicesKit';

const E_INVALID_PARAMS = 401;
const E_NOT_SUPPORT = 801;
const E_CRYPTO_OPERATION = 17630001;

interface DataBlob {
  data: Uint8Array;
}

interface CurveInfo {
  /** OpenSSL / node name of the curve. */
  nodeName: string;
  /** JWK "crv". */
  jwkCrv: string;
  /** Coordinate length in bytes. */
  coordLength: number;
  /** DER of a named-curve SubjectPublicKeyInfo up to (and including) the 0x04 of the uncompressed point. */
  spkiPrefix: Buffer;
}

const CURVES: Record<string, CurveInfo> = {
  ECC224: { nodeName: 'secp224r1', jwkCrv: 'P-224', coordLength: 28, spkiPrefix: Buffer.from('304e301006072a8648ce3d020106052b81040021033a0004', 'hex') },
  ECC256: { nodeName: 'prime256v1', jwkCrv: 'P-256', coordLength: 32, spkiPrefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex') },
  ECC384: { nodeName: 'secp384r1', jwkCrv: 'P-384', coordLength: 48, spkiPrefix: Buffer.from('3076301006072a8648ce3d020106052b8104002203620004', 'hex') },
  ECC521: { nodeName: 'secp521r1', jwkCrv: 'P-521', coordLength: 66, spkiPrefix: Buffer.from('30819b301006072a8648ce3d020106052b810400230381860004', 'hex') },
};

/**
 * Imports an SPKI DER public key of `curve`; undefined when it is another curve's key. The common named-curve,
 * uncompressed layout goes through JWK (OpenSSL 3 decodes JWK about a third faster than SPKI DER, which matters
 * to the verification benchmarks); anything else through the DER decoder. Both validate the point.
 */
function importSpki(der: Buffer, curve: CurveInfo): crypto.KeyObject | undefined {
  const prefix = curve.spkiPrefix;
  if (der.length === prefix.length + 2 * curve.coordLength && der.subarray(0, prefix.length).equals(prefix)) {
    const x = der.subarray(prefix.length, prefix.length + curve.coordLength);
    const y = der.subarray(prefix.length + curve.coordLength);
    return crypto.createPublicKey({
      key: { kty: 'EC', crv: curve.jwkCrv, x: x.toString('base64url'), y: y.toString('base64url') },
      format: 'jwk',
    });
  }
  // The point at infinity (a BIT STRING holding one 00 octet) decodes, but node aborts the process on reading its
  // details (an assertion in ExportJWKEcKey / GetEcKeyDetail); no verifier can use it, so it is refused here.
  if (der.length >= 4 && der.subarray(der.length - 4).equals(Buffer.from('03020000', 'hex'))) return undefined;
  const key = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
  const name = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  return name === curve.nodeName || name === curve.jwkCrv ? key : undefined;
}

/**
 * Node only (the certificate kit stand-in's X509_get_pubkey): any SPKI DER public key, named-curve EC keys through
 * JWK as above; throws what node:crypto throws for a key OpenSSL cannot decode.
 */
export function publicKeyFromSpki(der: Buffer): crypto.KeyObject {
  for (const curve of Object.values(CURVES)) {
    if (der.length === curve.spkiPrefix.length + 2 * curve.coordLength && der.subarray(0, curve.spkiPrefix.length).equals(curve.spkiPrefix)) {
      return importSpki(der, curve)!;
    }
  }
  return crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
}

const DIGESTS: Record<string, string> = {
  SHA1: 'sha1',
  SHA224: 'sha224',
  SHA256: 'sha256',
  SHA384: 'sha384',
  SHA512: 'sha512',
};

function checkBlob(blob: unknown, name: string): Uint8Array {
  const data = (blob as DataBlob | null | undefined)?.data;
  if (!(data instanceof Uint8Array)) {
    throw new BusinessError(E_INVALID_PARAMS, `Parameter error. ${name} must be a DataBlob {data: Uint8Array}.`);
  }
  return data;
}

function checkAlgName(algName: unknown): string {
  if (typeof algName !== 'string' || algName.length === 0) {
    throw new BusinessError(E_INVALID_PARAMS, 'Parameter error. algName must be a non-empty string.');
  }
  return algName;
}

class PubKey {
  readonly algName = 'ECC';
  readonly format = 'X.509';

  /** @internal the node:crypto key (Node only). */
  constructor(readonly keyObject: crypto.KeyObject, readonly nodeCurve: string) {}

  getEncoded(): DataBlob {
    return { data: new Uint8Array(this.keyObject.export({ type: 'spki', format: 'der' })) };
  }
}

interface KeyPair {
  readonly pubKey: PubKey;
  readonly priKey: null;
}

class AsyKeyGenerator {
  private readonly curve: CurveInfo;

  constructor(readonly algName: string) {
    const curve = CURVES[algName];
    if (!curve) {
      throw new BusinessError(E_NOT_SUPPORT, `Node shim: asymmetric key generator ${algName} is not implemented.`);
    }
    this.curve = curve;
  }

  async convertKey(pubKey: DataBlob | null, priKey: DataBlob | null): Promise<KeyPair> {
    if (priKey !== null && priKey !== undefined) {
      throw new BusinessError(E_NOT_SUPPORT, 'Node shim: converting private keys is not implemented.');
    }
    if (pubKey === null || pubKey === undefined) {
      throw new BusinessError(E_INVALID_PARAMS, 'Parameter error. pubKey and priKey cannot both be null.');
    }
    const der = checkBlob(pubKey, 'pubKey');
    let key: crypto.KeyObject | undefined;
    try {
      key = importSpki(Buffer.from(der.buffer, der.byteOffset, der.byteLength), this.curve);
    } catch (e) {
      throw new BusinessError(E_CRYPTO_OPERATION, `Crypto operation error. convertKey: ${(e as Error).message}`);
    }
    if (key === undefined) {
      throw new BusinessError(E_CRYPTO_OPERATION, `Crypto operation error. convertKey: the key is not an ${this.algName} key.`);
    }
    return { pubKey: new PubKey(key, this.curve.nodeName), priKey: null };
  }
}

class Verify {
  private readonly digest: string;
  private readonly nodeCurve: string | undefined;
  private key: PubKey | undefined;
  private chunks: Buffer[] = [];

  constructor(readonly algName: string) {
    const [keyAlg, digest, ...rest] = algName.split('|');
    const nodeDigest = DIGESTS[digest ?? ''];
    if (rest.length > 0 || !nodeDigest || !(keyAlg === 'ECC' || (keyAlg !== undefined && CURVES[keyAlg]))) {
      throw new BusinessError(E_NOT_SUPPORT, `Node shim: verify algorithm ${algName} is not implemented.`);
    }
    this.digest = nodeDigest;
    this.nodeCurve = keyAlg === 'ECC' ? undefined : CURVES[keyAlg as string]?.nodeName;
  }

  async init(pubKey: PubKey): Promise<void> {
    if (!(pubKey instanceof PubKey)) {
      throw new BusinessError(E_INVALID_PARAMS, 'Parameter error. pubKey must be a PubKey.');
    }
    if (this.nodeCurve !== undefined && pubKey.nodeCurve !== this.nodeCurve) {
      throw new BusinessError(E_CRYPTO_OPERATION, `Crypto operation error. The key does not match ${this.algName}.`);
    }
    this.key = pubKey;
    this.chunks = [];
  }

  async update(data: DataBlob): Promise<void> {
    this.requireInit();
    const bytes = checkBlob(data, 'data');
    this.chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  async verify(data: DataBlob | null, signatureData: DataBlob): Promise<boolean> {
    const key = this.requireInit();
    const signature = checkBlob(signatureData, 'signatureData');
    if (data !== null && data !== undefined) {
      const bytes = checkBlob(data, 'data');
      this.chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
    const message = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [];
    try {
      return crypto.verify(this.digest, message, { key: key.keyObject, dsaEncoding: 'der' }, signature);
    } catch {
      // OpenSSL reports an undecodable signature as a failed verification.
      return false;
    }
  }

  private requireInit(): PubKey {
    if (!this.key) {
      throw new BusinessError(E_CRYPTO_OPERATION, 'Crypto operation error. Verify is not initialized.');
    }
    return this.key;
  }
}

/** Node only: the PubKey of a node:crypto EC key (what X509Cert.getPublicKey() of the Node cert kit returns). */
export function pubKeyOfKeyObject(key: crypto.KeyObject): PubKey {
  return new PubKey(key, key.asymmetricKeyDetails?.namedCurve ?? '');
}

function createAsyKeyGenerator(algName: string): AsyKeyGenerator {
  return new AsyKeyGenerator(checkAlgName(algName));
}

function createVerify(algName: string): Verify {
  return new Verify(checkAlgName(algName));
}

export const cryptoFramework = {
  createAsyKeyGenerator,
  createVerify,
};

// Type names as the ArkTS code refers to them (cryptoFramework.PubKey etc.).
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace cryptoFramework {
  export type DataBlob = { data: Uint8Array };
  export type PubKey = InstanceType<typeof PubKeyClass>;
  export type KeyPair = { readonly pubKey: PubKey; readonly priKey: null };
  export type Verify = InstanceType<typeof VerifyClass>;
  export type AsyKeyGenerator = InstanceType<typeof AsyKeyGeneratorClass>;
}
const PubKeyClass = PubKey;
const VerifyClass = Verify;
const AsyKeyGeneratorClass = AsyKeyGenerator;
