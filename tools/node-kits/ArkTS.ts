// Node implementation of the `util` subset of @kit.ArkTS that the project uses (API 12 declarations,
// @ohos.util.d.ts), with the device's semantics:
// - util.Base64Helper: encodeToStringSync(src, options?) / decodeSync(src, options?) with util.Type BASIC (the
//   default), MIME (76-character lines ending in \r\n), BASIC_URL_SAFE and MIME_URL_SAFE (@since 12). decodeSync
//   refuses characters outside the alphabet of the Type with a BusinessError (documented as 401 "Parameter error";
//   the device's message is "The input string contains unsupported characters"). The reference does not promise
//   that only canonical text decodes (padding, trailing bits), so the shim is lenient there, the weakest reading:
//   the adapter's own canonical check is then what the suites exercise.
// - util.TextDecoder.create(encoding?, { fatal, ignoreBOM }) (@since 11) and decodeToString(input, { stream })
//   (@since 12): "If textDecoder.fatal is set to true, any decoding errors that occur will result in a TypeError
//   being thrown" (@ohos.util.d.ts); with ignoreBOM false a leading BOM is stripped, with true it is kept (WHATWG
//   Encoding, which both the device and node:util follow). Only utf-8 is needed here; other labels throw 401.
import { TextDecoder as NodeTextDecoder } from 'node:util';
import { BusinessError } from './BasicServicesKit';

const E_INVALID_PARAMS = 401;

enum Type {
  BASIC = 0,
  MIME = 1,
  BASIC_URL_SAFE = 2,
  MIME_URL_SAFE = 3,
}

const STD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9\-_]*={0,2}$/;

function isUrlSafe(type: Type): boolean {
  return type === Type.BASIC_URL_SAFE || type === Type.MIME_URL_SAFE;
}

function isMime(type: Type): boolean {
  return type === Type.MIME || type === Type.MIME_URL_SAFE;
}

function checkType(options: Type | undefined): Type {
  const type = options ?? Type.BASIC;
  if (!Object.values(Type).includes(type)) {
    throw new BusinessError(E_INVALID_PARAMS, 'Parameter error. The type of options must be one of the Type enumeration');
  }
  return type;
}

function checkBytes(src: unknown): Uint8Array {
  if (!(src instanceof Uint8Array)) {
    throw new BusinessError(E_INVALID_PARAMS, 'Parameter error. The type of src must be Uint8Array');
  }
  return src;
}

class Base64Helper {
  /** Encodes to text: padded for BASIC / MIME, unpadded for the URL-safe types (RFC 4648 §5 "base64url"). */
  encodeToStringSync(src: Uint8Array, options?: Type): string {
    const type = checkType(options);
    const text = Buffer.from(checkBytes(src)).toString(isUrlSafe(type) ? 'base64url' : 'base64');
    if (!isMime(type) || text.length === 0) return text;
    const lines: string[] = [];
    for (let i = 0; i < text.length; i += 76) lines.push(text.substring(i, i + 76));
    return lines.join('\r\n') + '\r\n';
  }

  decodeSync(src: Uint8Array | string, options?: Type): Uint8Array {
    const type = checkType(options);
    let text: string;
    if (typeof src === 'string') {
      text = src;
    } else {
      text = Buffer.from(checkBytes(src)).toString('latin1');
    }
    if (isMime(type)) text = text.replace(/\r\n/g, '');
    if (!(isUrlSafe(type) ? URL_SAFE : STD).test(text)) {
      throw new BusinessError(E_INVALID_PARAMS, 'The input string contains unsupported characters');
    }
    return new Uint8Array(Buffer.from(text, isUrlSafe(type) ? 'base64url' : 'base64'));
  }
}

interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}

interface DecodeToStringOptions {
  stream?: boolean;
}

class TextDecoder {
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  private readonly inner: NodeTextDecoder;

  private constructor(encoding: string, options: TextDecoderOptions) {
    this.encoding = encoding;
    this.fatal = options.fatal ?? false;
    this.ignoreBOM = options.ignoreBOM ?? false;
    this.inner = new NodeTextDecoder(encoding, { fatal: this.fatal, ignoreBOM: this.ignoreBOM });
  }

  static create(encoding?: string, options?: TextDecoderOptions): TextDecoder {
    const label = (encoding ?? 'utf-8').toLowerCase();
    if (label !== 'utf-8' && label !== 'utf8') {
      throw new BusinessError(E_INVALID_PARAMS, `Parameter error. The encoding ${encoding} is not supported here`);
    }
    return new TextDecoder('utf-8', options ?? {});
  }

  /** Throws TypeError on ill-formed input when fatal (node:util's TextDecoder throws a TypeError too). */
  decodeToString(input: Uint8Array, options?: DecodeToStringOptions): string {
    return this.inner.decode(checkBytes(input), { stream: options?.stream ?? false });
  }
}

export const util = { Base64Helper, Type, TextDecoder };
