// Public API of the reference app server (used by the demo and the benchmarks).
export { startServer, buildApp, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUTS, redactedPath, type RunningServer, type AppParts } from './App';
export {
  AuthError,
  checkAccount,
  bearerToken,
  type Authenticator,
  type AuthenticatedAccount,
  type AuthRequest,
  type AuthFailure,
} from './auth/Authenticator';
export { SessionTokenAuthenticator, mintSessionToken, type SessionTokenOptions, type MintOptions } from './auth/SessionTokenAuthenticator';
export {
  DEMO_CATALOG,
  loadConfigFromEnv,
  parseProducts,
  parseDatabaseUrl,
  ConfigError,
  type ServerConfig,
  type Catalog,
  type IapEnvironment,
  type ProductType,
} from './Config';
export { JwsVerifier, HUAWEI_IAP_LEAF_OID, type JwsVerifierOptions, type VerifiedJws, type ValidatedChain } from './jws/JwsVerifier';
export { RejectError, TransientError, type RejectReason } from './jws/Errors';
export { CrlRevocationChecker, type RevocationMode } from './jws/Revocation';
export {
  notificationKey,
  type Ledger,
  type TransactionalLedger,
  type LedgerHooks,
  type LedgerStats,
  type LedgerTransaction,
  type SqlTransaction,
  type SqlResult,
  type SqlValue,
  type DeliverOutcome,
  type RevokeOutcome,
  type RevokeRef,
  type NotificationRecord,
  type NotificationRevoke,
  type NotificationOutcome,
  type OrderPayload,
  type OrderRow,
  type ConfirmState,
} from './ledger/Ledger';
export { SqliteLedger, type SqliteLedgerOptions } from './ledger/SqliteLedger';
export { SqliteWorkerLedger, type SqliteWorkerLedgerOptions } from './ledger/SqliteWorkerLedger';
export { PostgresLedger, type PostgresLedgerOptions } from './ledger/PostgresLedger';
export { openLedger, isPostgresUrl, type OpenLedgerOptions } from './ledger/OpenLedger';
export { GroupCommit, DEFAULT_MAX_BATCH, type GroupCommitStats } from './ledger/GroupCommit';
export {
  HuaweiIapClient,
  createIapJwt,
  ConfirmError,
  CONFIRM_ORDER_PATH,
  CONFIRM_SUBSCRIPTION_PATH,
  type ShipmentConfirmer,
  type ConfirmRequest,
  type ConfirmOutcome,
} from './confirm/ConfirmClient';
export { ensureDevPki, DEV_APP_ID, DATA_DIR } from './Main';
