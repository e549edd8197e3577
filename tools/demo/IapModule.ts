// The `@zerolost/iap` types the demo's simulated device uses. They come from the declarations emitted from the
// engine's own .ets sources (tools/check/EmitIapDeclarations.ts), so the demo cannot drift from the engine. The
// module object itself is bundled from the real sources at run time and passed in (see DEVICE_ENTRY in Demo.ts).
export type {
  AccountProvider,
  Clock,
  DeliveredItem,
  DeliveryEngine,
  DeliveryRecord,
  EngineConfig,
  GrantTransaction,
  Granter,
  PurchasePage,
  PurchaseVerifier,
  StoreGateway,
  StoreProduct,
  SubscriptionVerificationResult,
  SweepReport,
  VerificationResult,
  VerifiedOrder,
} from '@zerolost/iap';

/** The module object `import * as iap from '@zerolost/iap'` gives. */
export type IapModule = typeof import('@zerolost/iap');

/** What an ability context offers the adapters in Node (RdbDeliveryLedger reads databaseDir). */
export interface DeviceContext {
  databaseDir: string;
  filesDir: string;
  cacheDir: string;
  tempDir: string;
}
