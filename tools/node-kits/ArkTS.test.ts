// Fidelity of the @kit.ArkTS `util` Node shim to its documented contract (@ohos.util.d.ts, API 12):
// Base64Helper.encodeToStringSync / decodeSync per util.Type, BusinessError 401 for characters outside the
// alphabet, and TextDecoder.create('utf-8', { fatal, ignoreBOM }).decodeToString throwing TypeError on ill-formed
// input when fatal.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { BusinessError } from './BasicServicesKit';
import { util } from './ArkTS';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const is401 = (e: unknown): boolean => e instanceof BusinessError && e.code === 401;

describe('ArkTS util.Base64Helper shim', () => {
  const helper = new util.Base64Helper();

  it('numbers util.Type as the declarations do (BASIC 0, MIME 1, BASIC_URL_SAFE 2, MIME_URL_SAFE 3)', () => {
    assert.deepEqual([util.Type.BASIC, util.Type.MIME, util.Type.BASIC_URL_SAFE, util.Type.MIME_URL_SAFE], [0, 1, 2, 3]);
  });

  it('encodes BASIC with padding (the default) and the URL-safe types without', () => {
    assert.equal(helper.encodeToStringSync(bytes(0x66)), 'Zg==');
    assert.equal(helper.encodeToStringSync(bytes(0xfb, 0xff), util.Type.BASIC), '+/8=');
    assert.equal(helper.encodeToStringSync(bytes(0xfb, 0xff), util.Type.BASIC_URL_SAFE), '-_8');
    assert.equal(helper.encodeToStringSync(new Uint8Array(0)), '');
  });

  it('breaks MIME output into 76-character lines ending in CRLF', () => {
    const text = helper.encodeToStringSync(new Uint8Array(60), util.Type.MIME);
    assert.equal(text, `${'A'.repeat(76)}\r\n${'A'.repeat(4)}\r\n`);
    assert.deepEqual(helper.decodeSync(text, util.Type.MIME), new Uint8Array(60));
  });

  it('decodes strings and Uint8Array text, leniently about padding and trailing bits (not promised either way)', () => {
    assert.deepEqual(helper.decodeSync('Zg=='), bytes(0x66));
    assert.deepEqual(helper.decodeSync(bytes(0x5a, 0x67, 0x3d, 0x3d)), bytes(0x66));
    assert.deepEqual(helper.decodeSync('Zg'), bytes(0x66));
    assert.deepEqual(helper.decodeSync('Zh=='), bytes(0x66));
    assert.deepEqual(helper.decodeSync('-_8', util.Type.BASIC_URL_SAFE), bytes(0xfb, 0xff));
  });

  it('throws BusinessError 401 for characters outside the alphabet of the type', () => {
    assert.throws(() => helper.decodeSync('Zm9v YmFy'), is401);
    assert.throws(() => helper.decodeSync('Zm9v\n'), is401);
    assert.throws(() => helper.decodeSync('-_8='), is401);
    assert.throws(() => helper.decodeSync('+/8', util.Type.BASIC_URL_SAFE), is401);
    assert.throws(() => helper.decodeSync('Zg=a'), is401);
    assert.throws(() => helper.decodeSync('Zm9v\u00e9'), is401);
  });

  it('throws BusinessError 401 for a parameter of the wrong type', () => {
    assert.throws(() => helper.encodeToStringSync('Zg==' as unknown as Uint8Array), is401);
    assert.throws(() => helper.decodeSync('Zg==', 7 as unknown as number), is401);
  });
});

describe('ArkTS util.TextDecoder shim', () => {
  it('decodes well-formed UTF-8 and reports its options', () => {
    const decoder = util.TextDecoder.create('utf-8', { fatal: true, ignoreBOM: true });
    assert.equal(decoder.encoding, 'utf-8');
    assert.equal(decoder.fatal, true);
    assert.equal(decoder.ignoreBOM, true);
    assert.equal(decoder.decodeToString(bytes(0xe9, 0x9b, 0xb6, 0xf0, 0x9f, 0x92, 0x8e)), '零\u{1F48E}');
  });

  it('throws TypeError on ill-formed input when fatal, and decodes the next input normally', () => {
    const decoder = util.TextDecoder.create('utf-8', { fatal: true });
    for (const bad of [bytes(0xc0, 0x80), bytes(0xed, 0xa0, 0x80), bytes(0x80), bytes(0xe9, 0x9b), bytes(0xf4, 0x90, 0x80, 0x80)]) {
      assert.throws(() => decoder.decodeToString(bad), TypeError);
    }
    assert.equal(decoder.decodeToString(bytes(0x7b, 0x7d)), '{}');
  });

  it('replaces ill-formed input with U+FFFD when not fatal', () => {
    assert.equal(util.TextDecoder.create('utf-8').decodeToString(bytes(0x7b, 0x80, 0x7d)), '{\ufffd}');
  });

  it('strips a leading BOM unless ignoreBOM is true', () => {
    const withBom = bytes(0xef, 0xbb, 0xbf, 0x7b, 0x7d);
    assert.equal(util.TextDecoder.create('utf-8', { fatal: true }).decodeToString(withBom), '{}');
    assert.equal(util.TextDecoder.create('utf-8', { fatal: true, ignoreBOM: true }).decodeToString(withBom), '\ufeff{}');
  });

  it('buffers a sequence split across stream calls', () => {
    const decoder = util.TextDecoder.create('utf-8', { fatal: true });
    assert.equal(decoder.decodeToString(bytes(0xe9, 0x9b), { stream: true }), '');
    assert.equal(decoder.decodeToString(bytes(0xb6)), '零');
  });

  it('throws BusinessError 401 for an encoding the shim does not model', () => {
    assert.throws(() => util.TextDecoder.create('gbk'), is401);
  });
});
