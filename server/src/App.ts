// The Fastify application and startServer(): the programmatic entry point used by Main.ts, the demo and benchmarks.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { ConfigError, DEMO_CATALOG, type ServerConfig } from './Config';
import { RejectError, TransientError } from './jws/Errors';
import { JwsVerifier } from './jws/JwsVerifier';
import { CrlRevocationChecker } from './jws/Revocation';
import { Ledger } from './ledger/Ledger';
import { PurchaseService } from './PurchaseService';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Log paths censored by the logger, on top of never logging request bodies in the first place. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'purchaseToken',
  'purchaseData',
  'jwsPurchaseOrder',
  'jwsNotification',
  'jws',
  'body',
  '*.purchaseToken',
  '*.purchaseData',
  '*.jwsPurchaseOrder',
  '*.jwsNotification',
  '*.jws',
  '*.body',
];

const rejection = {
  type: 'object',
  required: ['status', 'reason', 'detail'],
  properties: { status: { type: 'string' }, reason: { type: 'string' }, detail: { type: 'string' } },
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
const errorResponses = { 400: rejection, 413: rejection, 415: rejection, 422: rejection, 500: rejection, 503: retry } as const;

const verifySchema = {
  body: {
    type: 'object',
    required: ['purchaseData'],
    additionalProperties: false,
    properties: {
      purchaseData: { type: 'string', minLength: 1, maxLength: 60000 },
      accountId: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['status', 'payload'],
      properties: { status: { type: 'string' }, payload: { type: 'object', additionalProperties: true } },
    },
    409: rejection,
    ...errorResponses,
  },
} as const;

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

function sendRetry(reply: FastifyReply, reason: string, detail: string, seconds: number): FastifyReply {
  return reply
    .code(503)
    .header('retry-after', String(seconds))
    .send({ status: 'retry', reason, detail, retryAfterSeconds: seconds });
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
  const now = config.now ?? Date.now;
  const logger =
    config.logger === false
      ? false
      : {
          level: (config.logger === true || config.logger === undefined ? undefined : config.logger.level) ?? 'info',
          ...(typeof config.logger === 'object' && config.logger.stream ? { stream: config.logger.stream } : {}),
          redact: { paths: REDACT_PATHS, censor: '[redacted]' },
        };
  const app = Fastify({
    logger,
    bodyLimit: config.bodyLimit ?? DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  const verifier = new JwsVerifier({
    trustedRootsPem: config.trustedRootPem,
    cache: config.chainCache,
    maxClockSkewMs: config.maxClockSkewMs,
    now,
  });
  const revocation = new CrlRevocationChecker({
    mode: config.revocation?.mode ?? 'off',
    timeoutMs: config.revocation?.timeoutMs,
    fetch: config.revocation?.fetch,
    now,
  });
  const ledger = new Ledger(config.databasePath, config.hooks, { maxBatch: config.ledgerMaxBatch });
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
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
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
      req.log.info({ code: 'validation' }, 'bad request');
      return reply.code(400).send({ status: 'rejected', reason: 'bad-request', detail: `${fe.validationContext ?? 'body'} ${fe.validation[0]?.message ?? 'is invalid'}` });
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        req.log.info({ code: fe.code }, 'body too large');
        return reply.code(413).send({ status: 'rejected', reason: 'body-too-large', detail: 'request body exceeds the limit' });
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        req.log.info({ code: fe.code }, 'invalid json');
        return reply.code(400).send({ status: 'rejected', reason: 'invalid-json', detail: 'request body is not valid JSON' });
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

  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ status: 'rejected', reason: 'not-found', detail: 'no such route' });
  });

  app.get('/healthz', { schema: healthSchema }, async (_req, reply) => {
    try {
      ledger.db.prepare('SELECT 1').get();
    } catch {
      return sendRetry(reply, 'storage-unavailable', 'database not available', 5);
    }
    return { status: 'ok' };
  });

  app.post<{ Body: { purchaseData: string; accountId?: string } }>(
    '/v1/purchases/verify',
    { schema: verifySchema },
    async (req, reply) => {
      const r = await service.verifyPurchase(req.body.purchaseData, req.body.accountId);
      if (r.kind === 'account-conflict') {
        req.log.info({ reason: 'account-conflict' }, 'rejected');
        return reply
          .code(409)
          .send({ status: 'conflict', reason: 'account-conflict', detail: 'this order is bound to another account' });
      }
      void reply.header('x-delivery', r.replay ? 'replay' : 'new');
      return { status: 'valid', payload: r.payload };
    },
  );

  app.post<{ Body: { jwsNotification: string } }>(
    '/v1/notifications',
    { schema: notificationSchema },
    async (req, reply) => {
      const r = await service.handleNotification(req.body.jwsNotification);
      void reply.header('x-notification', r.kind === 'duplicate' ? 'duplicate' : r.action);
      return reply.code(200).send();
    },
  );

  app.addHook('onClose', async () => {
    await Promise.race([service.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
    ledger.close();
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
