// The Fastify application and startServer(): the programmatic entry point used by Main.ts, the demo and benchmarks.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { AuthError, checkAccount, type AuthenticatedAccount } from './auth/Authenticator';
import { ConfigError, DEMO_CATALOG, DEMO_NON_RENEWABLE_PERIODS, type ServerConfig } from './Config';
import { RejectError, TransientError } from './jws/Errors';
import { JwsVerifier } from './jws/JwsVerifier';
import { CrlRevocationChecker } from './jws/Revocation';
import { isTransactional, type Ledger } from './ledger/Ledger';
import { openLedger } from './ledger/OpenLedger';
import { PurchaseService } from './PurchaseService';
import { SqlSubscriptionStore } from './subscriptions/SqlSubscriptionStore';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Log paths censored by the logger, on top of never logging request bodies in the first place. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'purchaseToken',
  'purchaseData',
  'jwsPurchaseOrder',
  'jwsNotification',
  'jwsSubscriptionStatus',
  'jws',
  'body',
  '*.purchaseToken',
  '*.purchaseData',
  '*.jwsPurchaseOrder',
  '*.jwsNotification',
  '*.jwsSubscriptionStatus',
  '*.jws',
  '*.body',
];

const rejection = {
  type: 'object',
  required: ['status', 'reason', 'detail'],
  properties: { status: { type: 'string' }, reason: { type: 'string' }, detail: { type: 'string' }, field: { type: 'string' } },
} as const;
const retry = {
  type: 'object',
  required: ['status', 'reason', 'detail', 'retryAfterSeconds'],
  properties: {
    status: { type: 'string' },
    reason: { type: 'string' },
    detail: { type: 'string' },
    retryAfterSeconds: { type: 'integer' },
  },
} as const;
const errorResponses = { 400: rejection, 401: rejection, 413: rejection, 415: rejection, 422: rejection, 500: rejection, 503: retry } as const;

const verifySchema = {
  body: {
    type: 'object',
    required: ['purchaseData'],
    additionalProperties: false,
    // No accountId: the account comes from the authenticated session, never from the body.
    properties: { purchaseData: { type: 'string', minLength: 1, maxLength: 60000 } },
  },
  response: {
    200: {
      type: 'object',
      required: ['status', 'payload'],
      properties: { status: { type: 'string' }, payload: { type: 'object', additionalProperties: true } },
    },
    202: {
      type: 'object',
      required: ['status', 'reason', 'detail', 'payload'],
      properties: {
        status: { type: 'string' },
        reason: { type: 'string' },
        detail: { type: 'string' },
        payload: { type: 'object', additionalProperties: true },
      },
    },
    403: rejection,
    409: rejection,
    ...errorResponses,
  },
} as const;

// --- subscriptions ---
const subscriptionEntitlement = {
  type: 'object',
  required: ['subGroupGenerationId', 'state', 'entitled'],
  properties: {
    subGroupGenerationId: { type: 'string' },
    subGroupId: { type: 'string' },
    productId: { type: 'string' },
    state: { type: 'string' },
    entitled: { type: 'boolean' },
    expiresTime: { type: 'number' },
    autoRenewStatusCode: { type: 'string' },
  },
} as const;
const verifySubscriptionSchema = {
  ...verifySchema,
  response: {
    ...verifySchema.response,
    200: {
      type: 'object',
      required: ['status'],
      properties: {
        status: { type: 'string' },
        payload: { type: 'object', additionalProperties: true },
        subscription: { type: 'object', additionalProperties: true },
        entitlement: {
          ...subscriptionEntitlement,
          properties: {
            ...subscriptionEntitlement.properties,
            grantedOrderIds: { type: 'array', items: { type: 'string' } },
            revokedOrderIds: { type: 'array', items: { type: 'string' } },
            awaitingPaymentOrderIds: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
} as const;
const entitlementsSchema = {
  response: {
    200: {
      type: 'object',
      required: ['status', 'accountId', 'now', 'subscriptions', 'nonRenewables', 'nonConsumables'],
      properties: {
        status: { type: 'string' },
        accountId: { type: 'string' },
        now: { type: 'number' },
        subscriptions: { type: 'array', items: subscriptionEntitlement },
        nonRenewables: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              productId: { type: 'string' },
              purchaseOrderId: { type: 'string' },
              purchaseTime: { type: 'number' },
              expiresTime: { type: 'number' },
              entitled: { type: 'boolean' },
            },
          },
        },
        nonConsumables: {
          type: 'array',
          items: { type: 'object', properties: { productId: { type: 'string' }, purchaseOrderId: { type: 'string' }, purchaseTime: { type: 'number' } } },
        },
      },
    },
    404: rejection,
    ...errorResponses,
  },
} as const;
// --- end subscriptions ---

const notificationSchema = {
  body: {
    type: 'object',
    required: ['jwsNotification'],
    additionalProperties: true, // future fields must not make Huawei retry forever
    properties: { jwsNotification: { type: 'string', minLength: 1, maxLength: 60000 } },
  },
  response: errorResponses,
} as const;

const healthSchema = {
  response: {
    200: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
    503: retry,
  },
} as const;

export interface AppParts {
  app: FastifyInstance;
  ledger: Ledger;
  verifier: JwsVerifier;
  service: PurchaseService;
}

/** The routes and their methods: a known path with another method gets 405, not 404. */
const ROUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ['/healthz', ['GET', 'HEAD']],
  ['/v1/purchases/verify', ['POST']],
  ['/v1/notifications', ['POST']],
  ['/v1/entitlements', ['GET', 'HEAD']],
]);

/** Why a request body cannot be read as JSON text in UTF-8, or undefined when it can. */
export function unsupportedBodyEncoding(contentType: string | undefined, contentEncoding: string | undefined): string | undefined {
  const coding = (contentEncoding ?? '').trim().toLowerCase();
  if (coding !== '' && coding !== 'identity') return 'Content-Encoding is not supported: send the body uncompressed';
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return 'send application/json in UTF-8';
  return undefined;
}

/**
 * The request path as it may be logged: a known route without its query (`?[redacted]`), anything else
 * `[unrouted]`. A URL can carry a token or a JWS (`?purchaseToken=…`, a JWS pasted in a path): it is never logged.
 */
export function redactedPath(url: string | undefined): string {
  const raw = url ?? '';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  if (!ROUTES.has(path)) return '[unrouted]';
  return q < 0 ? path : `${path}?[redacted]`;
}

/** Server timeouts (ms). Slow clients are cut off so that they cannot hold sockets and descriptors for ever. */
export const DEFAULT_TIMEOUTS = {
  /** The whole request (headers and body) must arrive within this time; else 408 and the socket is closed. */
  requestMs: 20_000,
  /** The headers must arrive within this time. */
  headersMs: 10_000,
  /** A socket with no activity at all for this long is closed. */
  connectionMs: 60_000,
  /** An idle keep-alive connection is closed after this long (keep it above your load balancer's idle timeout). */
  keepAliveMs: 72_000,
  /**
   * At a shutdown, requests still arriving or in flight get this long; then their sockets are closed, so a slow
   * client cannot hold the stop past Main's 10 s force exit (this, plus at most 5 s for server-side confirms in
   * flight, stays under it). A handler already running still finishes its commit (the ledger closes after its
   * writes): a client cut off retries, and its retry is a replay.
   */
  shutdownMs: 4_000,
} as const;

function sendRetry(reply: FastifyReply, reason: string, detail: string, seconds: number): FastifyReply {
  return reply
    .code(503)
    .header('retry-after', String(seconds))
    .send({ status: 'retry', reason, detail, retryAfterSeconds: seconds });
}

interface AjvIssue {
  keyword?: string;
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** The field a schema error is about: `purchaseData`, `accountId`, …; '' for the body as a whole. */
function fieldOf(issue: AjvIssue | undefined): string {
  if (!issue) return '';
  const extra = issue.params?.['additionalProperty'] ?? issue.params?.['missingProperty'];
  const path = (issue.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  if (typeof extra === 'string') return path ? `${path}.${extra}` : extra;
  return path;
}

function validationDetail(issue: AjvIssue | undefined, field: string): string {
  if (field === 'accountId' && issue?.keyword === 'additionalProperties') {
    return 'accountId is not accepted: the account comes from the session (Authorization: Bearer <token>)';
  }
  if (issue?.keyword === 'additionalProperties') return `${field} is not a field of this request`;
  if (issue?.keyword === 'required') return `${field} is required`;
  return `${field || 'body'} ${issue?.message ?? 'is invalid'}`;
}

/** The fields a 400 may name in the log; any other name came from the client and is logged as `[unknown]`. */
const LOGGABLE_FIELDS: ReadonlySet<string> = new Set(['', 'purchaseData', 'jwsNotification', 'accountId']);

/** How many times a header occurs in Node's rawHeaders ([name, value, name, value, …]). */
function countHeader(rawHeaders: readonly string[], lowerName: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === lowerName) n++;
  return n;
}

/** Builds the Fastify app and its parts without listening. */
export function buildApp(config: ServerConfig): AppParts {
  if (config.confirm !== undefined && config.hooks?.grant === undefined) {
    // Nobody confirms an order before the entitlement is durably recorded where it is granted. Without a grant hook
    // the device grants, and only the device knows when its grant is durable: it finishes the order itself.
    throw new ConfigError(
      'server-side confirm delivery needs a server-side grant hook (hooks.grant): the server confirms only the orders it grants itself',
    );
  }
  const timeouts = { ...DEFAULT_TIMEOUTS, ...config.timeouts };
  for (const [name, v] of Object.entries(timeouts)) {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`timeouts.${name} must be a positive number of ms`);
  }
  if (timeouts.headersMs > timeouts.requestMs) throw new ConfigError('timeouts.headersMs must not exceed timeouts.requestMs');
  const now = config.now ?? Date.now;
  const logger =
    config.logger === false
      ? false
      : {
          level: (config.logger === true || config.logger === undefined ? undefined : config.logger.level) ?? 'info',
          ...(typeof config.logger === 'object' && config.logger.stream ? { stream: config.logger.stream } : {}),
          redact: { paths: REDACT_PATHS, censor: '[redacted]' },
          serializers: {
            req: (req: FastifyRequest) => ({ method: req.method, url: redactedPath(req.url), remoteAddress: req.ip }),
          },
        };
  const app = Fastify({
    logger,
    bodyLimit: config.bodyLimit ?? DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.connectionMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    // Node checks the header and request timeouts on this interval: a fraction of the shortest one.
    http: {
      headersTimeout: timeouts.headersMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(25, Math.floor(timeouts.headersMs / 4))),
    },
    // Node's parse errors carry the raw bytes received (`rawPacket`, which may hold a token): log the code only.
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket): void => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const overflow = err.code === 'HPE_HEADER_OVERFLOW';
      const status = timeout ? 408 : overflow ? 431 : 400;
      app.log.debug({ code: err.code ?? null, status }, timeout ? 'client timed out' : 'client error');
      if (socket.writable) {
        const body = JSON.stringify({
          status: 'rejected',
          reason: timeout ? 'request-timeout' : overflow ? 'headers-too-large' : 'bad-http',
          detail: timeout ? 'the request did not arrive in time' : 'the request could not be parsed',
        });
        socket.write(
          `HTTP/1.1 ${status} ${timeout ? 'Request Timeout' : overflow ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  if (config.maxConnections !== undefined) app.server.maxConnections = config.maxConnections;
  // Only JSON is spoken: text/plain gets 415 like every other media type (Fastify parses it by default).
  app.removeContentTypeParser('text/plain');
  // Fastify reads any application/json as UTF-8 whatever its charset, and ignores Content-Encoding: a UTF-16 or a
  // gzip body would be misread. Both get 415 before the body is read (after authentication: 401 comes first).
  app.addHook('preParsing', async (req, _reply, payload) => {
    const problem = unsupportedBodyEncoding(req.headers['content-type'], req.headers['content-encoding']);
    if (problem !== undefined) throw Object.assign(new Error(problem), { statusCode: 415, code: 'IAP_UNSUPPORTED_ENCODING' });
    return payload;
  });

  const verifier = new JwsVerifier({
    trustedRootsPem: config.trustedRootPem,
    cache: config.chainCache,
    maxClockSkewMs: config.maxClockSkewMs,
    now,
    signatureChecks: config.signatureChecks,
  });
  const revocation = new CrlRevocationChecker({
    mode: config.revocation?.mode ?? 'off',
    timeoutMs: config.revocation?.timeoutMs,
    fetch: config.revocation?.fetch,
    now,
  });
  // The one place of truth: SQLite by default, PostgreSQL for a postgres:// location (several instances).
  const ledger: Ledger =
    config.ledger ??
    openLedger(config.databasePath, config.hooks, {
      maxBatch: config.ledgerMaxBatch,
      poolSize: config.databasePoolSize,
      sqliteThread: config.sqliteThread,
      walSync: config.sqliteWalSync,
    });
  // --- subscriptions: own tables in the ledger's database, written in the ledger's transactions (SQLite and
  // PostgreSQL alike). A ledger that runs no app code in its transactions (SQLITE_THREAD=on) has none: auto-renewables
  // then get 422 unsupported-product-type.
  const subscriptionStore = isTransactional(ledger) ? new SqlSubscriptionStore(ledger) : undefined;
  // --- end subscriptions ---
  const service = new PurchaseService({
    verifier,
    revocation,
    ledger,
    appId: config.appId,
    environment: config.environment,
    catalog: config.products ?? DEMO_CATALOG,
    // Only a server that grants itself confirms (checked above); its confirm runs after the grant's COMMIT.
    confirmer: config.hooks?.grant !== undefined ? config.confirm : undefined,
    log: app.log,
    now,
    subscriptionStore,
    nonRenewablePeriods: config.nonRenewablePeriods ?? (config.products === undefined || config.products === DEMO_CATALOG ? DEMO_NON_RENEWABLE_PERIODS : new Map()),
  });
  const authenticator = config.authenticator;

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof AuthError) {
      req.log.info({ reason: err.reason }, 'unauthenticated');
      return reply
        .code(401)
        .header('www-authenticate', `Bearer realm="iap", error="${err.reason === 'session-required' ? 'invalid_request' : 'invalid_token'}"`)
        .send({ status: 'unauthenticated', reason: err.reason, detail: err.detail });
    }
    if (err instanceof RejectError) {
      req.log.info({ reason: err.reason }, 'rejected');
      return reply.code(422).send({ status: 'rejected', reason: err.reason, detail: err.detail });
    }
    if (err instanceof TransientError) {
      req.log.warn({ reason: err.reason }, 'transient failure');
      return sendRetry(reply, err.reason, err.detail, err.retryAfterSeconds);
    }
    const fe = err as FastifyError;
    // Client errors: log the code only (never the message, which could echo request content).
    if (fe.validation) {
      const issue = fe.validation[0] as AjvIssue | undefined;
      const field = fieldOf(issue);
      // A field name is client text (a token may be sent as a key): only the names this API knows are logged.
      req.log.info({ code: 'validation', field: LOGGABLE_FIELDS.has(field) ? field : '[unknown]' }, 'bad request');
      return reply.code(400).send({ status: 'rejected', reason: 'bad-request', detail: validationDetail(issue, field), field });
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        req.log.info({ code: fe.code }, 'body too large');
        return reply.code(413).send({ status: 'rejected', reason: 'body-too-large', detail: 'request body exceeds the limit' });
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        req.log.info({ code: fe.code }, 'invalid json');
        return reply.code(400).send({ status: 'rejected', reason: 'invalid-json', detail: 'request body is not valid JSON' });
      case 'IAP_UNSUPPORTED_ENCODING':
        req.log.info({ code: fe.code }, 'unsupported body encoding');
        return reply.code(415).send({ status: 'rejected', reason: 'unsupported-media-type', detail: err.message });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        req.log.info({ code: fe.code }, 'unsupported media type');
        return reply.code(415).send({ status: 'rejected', reason: 'unsupported-media-type', detail: 'send application/json' });
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      req.log.info({ code: fe.code ?? null }, 'client error');
      return reply.code(fe.statusCode).send({ status: 'rejected', reason: 'bad-request', detail: fe.code ?? 'bad request' });
    }
    req.log.error({ errName: err.name, code: fe.code ?? null, stack: err.stack }, 'internal error');
    return reply.code(500).send({ status: 'error', reason: 'internal', detail: 'internal error; retry later' });
  });

  app.setNotFoundHandler((req, reply) => {
    const q = req.url.indexOf('?');
    const allowed = ROUTES.get(q < 0 ? req.url : req.url.slice(0, q));
    if (allowed) {
      req.log.info({ method: req.method }, 'method not allowed');
      void reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({ status: 'error', reason: 'method-not-allowed', detail: `use ${allowed.join(' or ')}` });
      return;
    }
    void reply.code(404).send({ status: 'error', reason: 'not-found', detail: 'no such route' });
  });

  /** The caller's account from its session; undefined when the server runs without an authenticator. */
  const accountOf = async (req: FastifyRequest): Promise<AuthenticatedAccount | undefined> => {
    if (!authenticator) return undefined;
    // Node keeps the first of several Authorization headers and drops the others; a proxy may read the last one.
    // Two credentials are an ambiguity, never a session.
    if (countHeader(req.raw.rawHeaders, 'authorization') > 1) {
      throw new AuthError('session-invalid', 'send exactly one Authorization header');
    }
    const auth = req.headers.authorization;
    return checkAccount(await authenticator.authenticate({ authorization: auth, headers: req.headers }));
  };

  app.get('/healthz', { schema: healthSchema }, async (_req, reply) => {
    try {
      await ledger.ping();
    } catch {
      return sendRetry(reply, 'storage-unavailable', 'database not available', 5);
    }
    return { status: 'ok' };
  });

  // The session is checked on arrival, before the body is even parsed: a caller without one gets 401 whatever it
  // sends, costs no parsing, and learns nothing about any order.
  const accounts = new WeakMap<FastifyRequest, AuthenticatedAccount>();
  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const account = await accountOf(req);
    if (account) accounts.set(req, account);
  };
  app.post<{ Body: { purchaseData: string } }>('/v1/purchases/verify', { schema: verifySubscriptionSchema, onRequest: authenticate }, async (req, reply) => {
    const r = await service.verifyPurchase(req.body.purchaseData, accounts.get(req));
    if (r.kind === 'account-conflict') {
      req.log.info({ reason: 'account-conflict' }, 'rejected');
      return reply
        .code(409)
        .send({ status: 'conflict', reason: 'account-conflict', detail: 'this order is bound to another account' });
    }
    if (r.kind === 'account-mismatch') {
      req.log.info({ reason: 'account-mismatch' }, 'rejected');
      return reply
        .code(403)
        .send({ status: 'forbidden', reason: 'account-mismatch', detail: 'this order was created for another account' });
    }
    // --- subscriptions ---
    if (r.kind === 'subscription') {
      void reply.header('x-delivery', r.fresh ? 'new' : 'replay');
      return { status: 'valid', subscription: r.subscription, entitlement: r.entitlement };
    }
    // --- end subscriptions ---
    if (r.kind === 'not-paid') {
      req.log.info({ reason: 'purchase-incomplete' }, 'not paid yet');
      return reply.code(202).send({
        status: 'not-paid',
        reason: 'purchase-incomplete',
        detail: 'the payment is not complete (no purchaseTime); nothing was recorded',
        payload: r.payload,
      });
    }
    void reply.header('x-delivery', r.replay ? 'replay' : 'new');
    return { status: 'valid', payload: r.payload };
  });

  // --- subscriptions: what the session's account has now ---
  app.get('/v1/entitlements', { schema: entitlementsSchema, onRequest: authenticate }, async (req, reply) => {
    const account = accounts.get(req);
    if (account === undefined) {
      return reply.code(404).send({ status: 'error', reason: 'no-accounts', detail: 'this server runs without accounts (no authenticator)' });
    }
    const subscriptions = service.subscriptions;
    if (subscriptions === undefined) {
      return reply
        .code(404)
        .send({ status: 'error', reason: 'no-entitlement-store', detail: 'this ledger runs no app transactions (SQLITE_THREAD=on)' });
    }
    const e = await subscriptions.entitlements(account.accountId);
    return { status: 'ok', accountId: account.accountId, now: now(), ...e };
  });
  // --- end subscriptions ---

  app.post<{ Body: { jwsNotification: string } }>(
    '/v1/notifications',
    { schema: notificationSchema },
    async (req, reply) => {
      const r = await service.handleNotification(req.body.jwsNotification);
      void reply.header('x-notification', r.kind === 'duplicate' ? 'duplicate' : r.action);
      return reply.code(200).send();
    },
  );

  app.addHook('preClose', (done) => {
    const cutOff = setTimeout(() => app.server.closeAllConnections(), timeouts.shutdownMs);
    cutOff.unref();
    app.server.once('close', () => clearTimeout(cutOff));
    done();
  });
  app.addHook('onClose', async () => {
    await Promise.race([service.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
    await ledger.close();
  });

  return { app, ledger, verifier, service };
}

export interface RunningServer extends AppParts {
  /** e.g. http://127.0.0.1:8787 */
  url: string;
  port: number;
  /** Stops accepting, finishes in-flight requests and confirmations, closes the database. Idempotent. */
  close(): Promise<void>;
}

/** Starts the server (host default 127.0.0.1, port default 8787; pass port 0 for a free port). */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const parts = buildApp(config);
  try {
    // A database that cannot be reached or migrated fails the start, not the first request.
    await parts.ledger.ready();
    await parts.app.listen({ host: config.host ?? '127.0.0.1', port: config.port ?? 8787 });
  } catch (e) {
    await parts.app.close().catch(() => undefined);
    throw e;
  }
  const addr = parts.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (config.port ?? 8787);
  const host = config.host ?? '127.0.0.1';
  let closing: Promise<void> | undefined;
  return {
    ...parts,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () => (closing ??= parts.app.close().then(() => undefined)),
  };
}
