// Fidelity of the @kit.NetworkKit Node shim to the device (netstack over libcurl): response size limit (maxLimit,
// 2300023), redirects (followed, 30 hops at most, 2300047; 307/308 keep the body, 301/302/303 drop it but keep the
// method string), and a readTimeout that bounds the whole transfer, trickling bodies and redirects included.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BusinessError } from './BasicServicesKit';
import { http as kit } from './NetworkKit';

interface Seen {
  method: string;
  path: string;
  body: string;
  contentLength: string | undefined;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

describe('NetworkKit shim', () => {
  let server: http.Server;
  let base = '';
  const seen: Seen[] = [];
  const routes = new Map<string, Handler>();

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = (req.url ?? '').split('?')[0] ?? '';
        seen.push({ method: req.method ?? '', path, body, contentLength: req.headers['content-length'] });
        const handler = routes.get(path);
        if (handler) handler(req, res, body);
        else res.writeHead(404).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (path: string, extra: { maxLimit?: number; readTimeout?: number } = {}): Promise<{ responseCode: number; result: unknown }> =>
    kit.createHttp().request(`${base}${path}`, {
      method: kit.RequestMethod.POST,
      header: { 'content-type': 'application/json' },
      extraData: '{"purchaseData":"x"}',
      expectDataType: kit.HttpDataType.STRING,
      ...extra,
    });

  const codeOf = async (p: Promise<unknown>): Promise<number> => {
    try {
      await p;
      return 0;
    } catch (e) {
      assert.ok(e instanceof BusinessError, String(e));
      return (e as BusinessError).code;
    }
  };

  it('fails a body above maxLimit with 2300023 and accepts one at the limit', async () => {
    routes.set('/big', (_req, res) => res.writeHead(200).end('x'.repeat(10_000)));
    assert.equal(await codeOf(post('/big', { maxLimit: 9_999 })), 2300023);
    const ok = await post('/big', { maxLimit: 10_000 });
    assert.equal((ok.result as string).length, 10_000);
  });

  it('applies the device default of 5 MiB when maxLimit is not set', async () => {
    routes.set('/huge', (_req, res) => res.writeHead(200).end(Buffer.alloc(5 * 1024 * 1024 + 1, 0x61)));
    assert.equal(await codeOf(post('/huge')), 2300023);
  });

  it('follows 307 and 308 with the method and the body', async () => {
    for (const status of [307, 308]) {
      seen.length = 0;
      routes.set('/moved', (_req, res) => res.writeHead(status, { location: '/target' }).end());
      routes.set('/target', (_req, res, body) => res.writeHead(200).end(`got ${body}`));
      const r = await post('/moved');
      assert.equal(r.responseCode, 200);
      assert.equal(r.result, 'got {"purchaseData":"x"}');
      assert.deepEqual(seen.map((s) => `${s.method} ${s.path} ${s.body}`), [
        'POST /moved {"purchaseData":"x"}',
        'POST /target {"purchaseData":"x"}',
      ]);
    }
  });

  it('follows 301, 302 and 303 with the same method string but no body, as libcurl with a custom method does', async () => {
    for (const status of [301, 302, 303]) {
      seen.length = 0;
      routes.set('/old', (_req, res) => res.writeHead(status, { location: `${base}/new` }).end('moved'));
      routes.set('/new', (_req, res, body) => res.writeHead(400).end(`empty=${body.length === 0}`));
      const r = await post('/old');
      assert.equal(r.responseCode, 400);
      assert.equal(r.result, 'empty=true');
      assert.deepEqual(seen.map((s) => `${s.method} ${s.path}`), ['POST /old', 'POST /new']);
      assert.ok(seen[1]?.contentLength === undefined || seen[1]?.contentLength === '0');
    }
  });

  it('gives up after 30 redirects with 2300047', async () => {
    seen.length = 0;
    routes.set('/loop', (_req, res) => res.writeHead(302, { location: '/loop' }).end());
    assert.equal(await codeOf(post('/loop')), 2300047);
    assert.equal(seen.length, 31);
  });

  it('does not follow a redirect to a protocol other than http and https (2300001)', async () => {
    routes.set('/ftp', (_req, res) => res.writeHead(302, { location: 'ftp://127.0.0.1/x' }).end());
    assert.equal(await codeOf(post('/ftp')), 2300001);
  });

  it('returns a 3xx without Location as it is', async () => {
    routes.set('/nowhere', (_req, res) => res.writeHead(301).end('{"status":"moved"}'));
    assert.equal((await post('/nowhere')).responseCode, 301);
  });

  it('bounds the whole transfer with readTimeout: a body trickling past it fails with 2300028', async () => {
    routes.set('/trickle', (_req, res) => {
      res.writeHead(200);
      let n = 0;
      const timer = setInterval(() => {
        if (res.destroyed || ++n > 20) {
          clearInterval(timer);
          if (!res.destroyed) res.end();
          return;
        }
        res.write('x');
      }, 50);
    });
    const started = Date.now();
    assert.equal(await codeOf(post('/trickle', { readTimeout: 300 })), 2300028);
    assert.ok(Date.now() - started < 900);
    const slowButInTime = await post('/trickle', { readTimeout: 5_000 });
    assert.equal((slowButInTime.result as string).length, 20);
  });
});
