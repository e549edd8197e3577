// Node implementation of the `http` subset of @kit.NetworkKit that the project uses, over node:http/https, with
// the device's semantics (@ohos.net.http, API 12):
// - createHttp() → HttpRequest; request(url, options?) → Promise<HttpResponse>; destroy();
// - options: method (default GET), header (default {'content-type': 'application/json'}), extraData (string,
//   ArrayBuffer, or an object sent as JSON; for GET/HEAD appended to the query), expectDataType, connectTimeout
//   and readTimeout (default 60000 ms each; readTimeout bounds the whole transfer, redirects included, as
//   libcurl's CURLOPT_TIMEOUT), maxLimit (largest response body, default 5 MiB, at most 100 MiB; more fails with
//   2300023, as netstack's write callback does);
// - redirects are followed, as netstack does (CURLOPT_FOLLOWLOCATION, at most 30 hops, then 2300047): 307 and 308
//   repeat the request with its body; 301, 302 and 303 repeat it WITHOUT the body but with the same method string
//   (libcurl keeps CURLOPT_CUSTOMREQUEST on redirects); only http and https targets are followed;
// - HttpResponse: responseCode, result (string, ArrayBuffer, or a parsed object for HttpDataType.OBJECT),
//   resultType, header (lower-case names; repeated values joined by ', '), cookies, performanceTiming;
// - failures reject with BusinessError codes the kit documents: 2300001 unsupported protocol, 2300003 bad URL,
//   2300006 host not resolved, 2300007 cannot connect, 2300028 timeout, 2300052 empty reply, 2300056 receive
//   failure, 2300023 response body above maxLimit, 2300047 too many redirects, 2300999 unknown (also used for a
//   request on a destroyed HttpRequest).
import * as http_ from 'node:http';
import * as https from 'node:https';
import { BusinessError } from './BasicServicesKit';

enum RequestMethod {
  OPTIONS = 'OPTIONS',
  GET = 'GET',
  HEAD = 'HEAD',
  POST = 'POST',
  PUT = 'PUT',
  DELETE = 'DELETE',
  TRACE = 'TRACE',
  CONNECT = 'CONNECT',
}

enum HttpDataType {
  STRING = 0,
  OBJECT = 1,
  ARRAY_BUFFER = 2,
}

enum ResponseCode {
  OK = 200,
}

export const E_UNSUPPORTED_PROTOCOL = 2300001;
export const E_URL_MALFORMAT = 2300003;
export const E_COULDNT_RESOLVE_HOST = 2300006;
export const E_COULDNT_CONNECT = 2300007;
export const E_WRITE_ERROR = 2300023;
export const E_OPERATION_TIMEDOUT = 2300028;
export const E_TOO_MANY_REDIRECTS = 2300047;
export const E_GOT_NOTHING = 2300052;
export const E_RECV_ERROR = 2300056;
export const E_UNKNOWN = 2300999;

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_LIMIT = 5 * 1024 * 1024;
const MAX_MAX_LIMIT = 100 * 1024 * 1024;
const MAX_REDIRECTS = 30;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

interface HttpRequestOptions {
  method?: RequestMethod;
  extraData?: string | object | ArrayBuffer;
  expectDataType?: HttpDataType;
  usingCache?: boolean;
  priority?: number;
  header?: object;
  readTimeout?: number;
  connectTimeout?: number;
  maxLimit?: number;
}

interface PerformanceTiming {
  dnsTiming: number;
  tcpTiming: number;
  tlsTiming: number;
  firstSendTiming: number;
  firstReceiveTiming: number;
  totalFinishTiming: number;
  redirectTiming: number;
  responseHeaderTiming: number;
  responseBodyTiming: number;
  totalTiming: number;
}

interface HttpResponse {
  result: string | object | ArrayBuffer;
  resultType: HttpDataType;
  responseCode: number;
  header: object;
  cookies: string;
  performanceTiming: PerformanceTiming;
}

function fail(code: number, message: string): BusinessError {
  return new BusinessError(code, message);
}

/** Maps a node socket/DNS error to the kit's code. */
function networkError(e: NodeJS.ErrnoException, gotResponse: boolean): BusinessError {
  switch (e.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return fail(E_COULDNT_RESOLVE_HOST, `Failed to resolve the host name. ${e.message}`);
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return fail(E_COULDNT_CONNECT, `Failed to connect to the server. ${e.message}`);
    case 'ECONNRESET':
      return gotResponse
        ? fail(E_RECV_ERROR, `Failed to receive data from the peer. ${e.message}`)
        : fail(E_GOT_NOTHING, `The server returned nothing (no header or data). ${e.message}`);
    default:
      return fail(E_UNKNOWN, `Unknown error. ${e.message}`);
  }
}

function headerRecord(header: object | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const source = (header ?? { 'content-type': 'application/json' }) as Record<string, unknown>;
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && value !== null) out[name] = String(value);
  }
  return out;
}

function bodyOf(extraData: HttpRequestOptions['extraData']): Buffer | undefined {
  if (extraData === undefined || extraData === null) return undefined;
  if (typeof extraData === 'string') return Buffer.from(extraData, 'utf8');
  if (extraData instanceof ArrayBuffer) return Buffer.from(extraData);
  return Buffer.from(JSON.stringify(extraData), 'utf8');
}

function withQuery(url: URL, extraData: HttpRequestOptions['extraData']): void {
  if (extraData === undefined || extraData === null || extraData instanceof ArrayBuffer) return;
  if (typeof extraData === 'string') {
    if (extraData.length > 0) url.search = url.search ? `${url.search}&${extraData}` : `?${extraData}`;
    return;
  }
  for (const [k, v] of Object.entries(extraData as Record<string, unknown>)) url.searchParams.append(k, String(v));
}

function resultOf(body: Buffer, type: HttpDataType | undefined, contentType: string): { result: HttpResponse['result']; resultType: HttpDataType } {
  const asBuffer = (): ArrayBuffer => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  if (type === HttpDataType.ARRAY_BUFFER) return { result: asBuffer(), resultType: HttpDataType.ARRAY_BUFFER };
  if (type === HttpDataType.OBJECT) {
    try {
      return { result: JSON.parse(body.toString('utf8')) as object, resultType: HttpDataType.OBJECT };
    } catch {
      return { result: body.toString('utf8'), resultType: HttpDataType.STRING };
    }
  }
  if (type === undefined && /^(application\/octet-stream|image\/)/i.test(contentType)) {
    return { result: asBuffer(), resultType: HttpDataType.ARRAY_BUFFER };
  }
  return { result: body.toString('utf8'), resultType: HttpDataType.STRING };
}

class HttpRequest {
  private destroyed = false;
  private readonly inFlight = new Set<http_.ClientRequest>();

  request(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      if (this.destroyed) {
        reject(fail(E_UNKNOWN, 'Unknown error. The HttpRequest has been destroyed.'));
        return;
      }
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        reject(fail(E_URL_MALFORMAT, 'Invalid URL format or missing URL.'));
        return;
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        reject(fail(E_UNSUPPORTED_PROTOCOL, 'Unsupported protocol.'));
        return;
      }
      const method = options.method ?? RequestMethod.GET;
      const hasBody = method !== RequestMethod.GET && method !== RequestMethod.HEAD;
      if (!hasBody) withQuery(target, options.extraData);
      const body = hasBody ? bodyOf(options.extraData) : undefined;
      const maxLimit = Math.min(Math.max(options.maxLimit ?? DEFAULT_MAX_LIMIT, 0), MAX_MAX_LIMIT);

      const started = Date.now();
      let settled = false;
      let gotResponse = false;
      let current: http_.ClientRequest | undefined;
      const timers: NodeJS.Timeout[] = [];
      const finish = (error: BusinessError | undefined, response?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        timers.forEach((t) => clearTimeout(t));
        if (current) this.inFlight.delete(current);
        if (error) {
          current?.destroy();
          reject(error);
        } else {
          resolve(response as HttpResponse);
        }
      };
      const timeout = (ms: number, what: string): NodeJS.Timeout =>
        setTimeout(() => finish(fail(E_OPERATION_TIMEDOUT, `Operation timeout (${what} ${ms} ms).`)), ms);
      timers.push(timeout(options.readTimeout ?? DEFAULT_TIMEOUT_MS, 'readTimeout'));

      /** One hop: `withBody` is false after a 301/302/303 (libcurl drops the body but keeps the method string). */
      const send = (hopTarget: URL, withBody: boolean, hops: number): void => {
        const headers = headerRecord(options.header);
        const hopBody = withBody ? body : undefined;
        if (hopBody !== undefined) headers['content-length'] = String(hopBody.length);
        const lib = hopTarget.protocol === 'https:' ? https : http_;
        const req = lib.request(hopTarget, { method, headers, agent: false });
        if (current) this.inFlight.delete(current);
        current = req;
        this.inFlight.add(req);
        const connectTimer = timeout(options.connectTimeout ?? DEFAULT_TIMEOUT_MS, 'connectTimeout');
        timers.push(connectTimer);
        req.on('socket', (socket) => {
          const connected = (): void => clearTimeout(connectTimer);
          if (socket.connecting) socket.once(hopTarget.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
          else connected();
        });
        req.on('error', (e: NodeJS.ErrnoException) => finish(networkError(e, gotResponse)));
        req.on('response', (res) => {
          gotResponse = true;
          const status = res.statusCode ?? 0;
          const location = res.headers.location;
          if (REDIRECT_STATUSES.has(status) && typeof location === 'string' && location.length > 0) {
            res.resume();
            if (hops >= MAX_REDIRECTS) {
              finish(fail(E_TOO_MANY_REDIRECTS, 'The number of redirections reaches the maximum allowed.'));
              return;
            }
            let next: URL;
            try {
              next = new URL(location, hopTarget);
            } catch {
              finish(fail(E_URL_MALFORMAT, 'Invalid URL format or missing URL.'));
              return;
            }
            if (next.protocol !== 'http:' && next.protocol !== 'https:') {
              finish(fail(E_UNSUPPORTED_PROTOCOL, 'Unsupported protocol.'));
              return;
            }
            res.on('end', () => {
              if (!settled) send(next, withBody && (status === 307 || status === 308), hops + 1);
            });
            return;
          }
          const chunks: Buffer[] = [];
          let received = 0;
          const firstReceive = Date.now() - started;
          res.on('data', (c: Buffer) => {
            received += c.length;
            if (received > maxLimit) {
              finish(fail(E_WRITE_ERROR, 'Failed to write the received data to the disk or application.'));
              return;
            }
            chunks.push(c);
          });
          res.on('error', (e: NodeJS.ErrnoException) => finish(networkError(e, true)));
          res.on('aborted', () => finish(fail(E_RECV_ERROR, 'Failed to receive data from the peer.')));
          res.on('end', () => {
            const header: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) header[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
            }
            const total = Date.now() - started;
            const { result, resultType } = resultOf(Buffer.concat(chunks), options.expectDataType, header['content-type'] ?? '');
            finish(undefined, {
              result,
              resultType,
              responseCode: status,
              header,
              cookies: header['set-cookie'] ?? '',
              performanceTiming: {
                dnsTiming: 0,
                tcpTiming: 0,
                tlsTiming: 0,
                firstSendTiming: 0,
                firstReceiveTiming: firstReceive,
                totalFinishTiming: total,
                redirectTiming: 0,
                responseHeaderTiming: firstReceive,
                responseBodyTiming: total - firstReceive,
                totalTiming: total,
              },
            });
          });
        });
        req.end(hopBody);
      };
      send(target, true, 0);
    });
  }

  destroy(): void {
    this.destroyed = true;
    for (const req of this.inFlight) req.destroy(Object.assign(new Error('The HttpRequest has been destroyed.'), { code: 'EDESTROYED' }));
    this.inFlight.clear();
  }
}

function createHttp(): HttpRequest {
  return new HttpRequest();
}

export const http = {
  createHttp,
  RequestMethod,
  HttpDataType,
  ResponseCode,
};

// Type names as the ArkTS code refers to them (http.HttpRequest etc.).
type HttpRequestType = HttpRequest;
type HttpResponseType = HttpResponse;
type HttpRequestOptionsType = HttpRequestOptions;
type RequestMethodType = RequestMethod;
type HttpDataTypeType = HttpDataType;
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace http {
  export type HttpRequest = HttpRequestType;
  export type HttpResponse = HttpResponseType;
  export type HttpRequestOptions = HttpRequestOptionsType;
  export type RequestMethod = RequestMethodType;
  export type HttpDataType = HttpDataTypeType;
}
