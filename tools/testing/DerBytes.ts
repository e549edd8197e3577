/**
 * DerBytes — the few DER tools the certificate test suites use to build and edit certificates byte by byte (TEST
 * ONLY; the product reads certificates through node:crypto, asn1js and the device's certificate kit). Definite
 * lengths only; `tlv` writes the shortest length form.
 */

/** One element: its tag byte and the offsets of its start, its content and its end. */
export interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

/** DER TLV of `content` under the one-byte `tag`. */
export function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

export const seq = (...p: Buffer[]): Buffer => tlv(0x30, Buffer.concat(p));
export const set = (...p: Buffer[]): Buffer => tlv(0x31, Buffer.concat(p));

/** The element at `pos` of `der` (one-byte tag, definite length). */
export function readTlv(der: Buffer, pos: number): Tlv {
  let len = der[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[p + i]!;
    p += n;
  }
  return { tag: der[pos]!, start: pos, contentStart: p, end: p + len };
}

/** The elements inside `parent`. */
export function childrenOf(der: Buffer, parent: { contentStart: number; end: number }): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end;) {
    const t = readTlv(der, p);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** The elements inside the constructed element at `pos`, as byte strings. */
export function parts(der: Buffer, pos = 0): Buffer[] {
  return childrenOf(der, readTlv(der, pos)).map((t) => der.subarray(t.start, t.end));
}
