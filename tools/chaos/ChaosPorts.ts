// Fault-injecting wrappers around the engine's real ports (IapKitStoreGateway over the simulator, the on-device
// JWS verifier, RdbDeliveryLedger, the chaos granter). They are how a crash is modelled honestly: at the chosen
// point the process dies — every SQLite connection is dropped (uncommitted work is lost), the engine's timers are
// cancelled — and from then on every call the dead engine's ports make, or were waiting for, never settles, so no
// cleanup or error-handling code of the dead engine runs.
import {
  DeliveryLedger,
  DeliveryRecord,
  GrantTransaction,
  Granter,
  LedgerCounts,
  LedgerTransaction,
  PurchasePage,
  PurchaseVerifier,
  StoreGateway,
  StoreProduct,
  SubscriptionEntitlement,
  SubscriptionVerificationResult,
  VerificationResult,
  VerifiedOrder,
  VerifierUnavailableError,
} from '@zerolost/iap';

/** Where in the per-order pipeline the process can die. */
export type CrashPoint = 'before-verify' | 'after-verify' | 'after-grant' | 'after-commit' | 'before-finish' | 'after-finish';

export const CRASH_POINTS: readonly CrashPoint[] = [
  'before-verify',
  'after-verify',
  'after-grant',
  'after-commit',
  'before-finish',
  'after-finish',
];

/** One app process: dies once, never comes back (a new process gets a new AppProcess). */
export class AppProcess {
  dead = false;
  readonly death: Promise<void>;
  private resolveDeath: () => void = () => undefined;

  constructor(readonly id: number) {
    this.death = new Promise<void>((resolve) => {
      this.resolveDeath = resolve;
    });
  }

  markDead(): void {
    this.dead = true;
    this.resolveDeath();
  }
}

/** Ports whose calls can be made to hang (never answer) while the process lives on. */
export type HangPort =
  | 'createPurchase'
  | 'finishPurchase'
  | 'queryPurchases'
  | 'verify'
  | 'ledger-find'
  | 'ledger-transact'
  | 'ledger-counts';

/** Decides, at each fault point, whether the process dies there (and kills it if so). */
export interface FaultControl {
  reach(point: CrashPoint, proc: AppProcess): boolean;
  /** True when this verification must fail as "verifier unreachable". */
  verifierDown(): boolean;
  /** True when this verdict, once decided, must be lost on the way back. */
  verdictLost(): boolean;
  /** True when this call of `port` must never answer. */
  hang(port: HangPort, proc: AppProcess): boolean;
  /** Every port call and answer (so the harness can tell a working engine from a blocked one). */
  activity(): void;
}

/** A promise that never settles: what a dead process waits for. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/** Runs `op` for a live process; once the process is dead neither its result nor its error is ever delivered. */
function guard<T>(proc: AppProcess, op: () => Promise<T>, faults?: FaultControl): Promise<T> {
  if (proc.dead) return never<T>();
  faults?.activity();
  return op().then(
    (v) => {
      faults?.activity();
      return proc.dead ? never<T>() : v;
    },
    (e: unknown) => {
      faults?.activity();
      return proc.dead ? never<T>() : Promise.reject(e);
    },
  );
}

/** A call that never answers although the process lives (a hung IPC or network call). */
function hung(faults: FaultControl, port: HangPort, proc: AppProcess): boolean {
  return !proc.dead && faults.hang(port, proc);
}

export class ChaosStoreGateway implements StoreGateway {
  constructor(private readonly inner: StoreGateway, private readonly proc: AppProcess, private readonly faults: FaultControl) {}

  queryPurchases(productType: number, queryType: number, continuationToken?: string): Promise<PurchasePage> {
    if (hung(this.faults, 'queryPurchases', this.proc)) return never<PurchasePage>();
    return guard(this.proc, () => this.inner.queryPurchases(productType, queryType, continuationToken), this.faults);
  }

  finishPurchase(productType: number, purchaseToken: string, purchaseOrderId: string): Promise<void> {
    if (this.proc.dead || this.faults.reach('before-finish', this.proc)) return never<void>();
    if (hung(this.faults, 'finishPurchase', this.proc)) return never<void>();
    return guard(this.proc, async () => {
      let failure: unknown;
      try {
        await this.inner.finishPurchase(productType, purchaseToken, purchaseOrderId);
      } catch (e) {
        failure = e;
      }
      if (this.faults.reach('after-finish', this.proc)) return never<void>();
      if (failure !== undefined) throw failure;
    }, this.faults);
  }

  createPurchase(productId: string, productType: number, developerPayload?: string, quantity?: number): Promise<string> {
    if (hung(this.faults, 'createPurchase', this.proc)) return never<string>();
    return guard(this.proc, () => this.inner.createPurchase(productId, productType, developerPayload, quantity), this.faults);
  }

  queryEnvironmentStatus(): Promise<void> {
    return guard(this.proc, () => this.inner.queryEnvironmentStatus());
  }

  queryProducts(productType: number, productIds: string[]): Promise<StoreProduct[]> {
    return guard(this.proc, () => this.inner.queryProducts(productType, productIds));
  }

  isSandboxActivated(): Promise<boolean> {
    return guard(this.proc, () => this.inner.isSandboxActivated());
  }
}

export class ChaosVerifier implements PurchaseVerifier {
  constructor(private readonly inner: PurchaseVerifier, private readonly proc: AppProcess, private readonly faults: FaultControl) {}

  verify(purchaseData: string, jwsPurchaseOrder: string): Promise<VerificationResult> {
    if (this.proc.dead || this.faults.reach('before-verify', this.proc)) return never<VerificationResult>();
    if (this.faults.verifierDown()) {
      return Promise.reject(new VerifierUnavailableError('chaos: the verification service is unreachable', 0));
    }
    if (hung(this.faults, 'verify', this.proc)) return never<VerificationResult>();
    return guard(this.proc, async () => {
      const result = await this.inner.verify(purchaseData, jwsPurchaseOrder);
      if (this.faults.reach('after-verify', this.proc)) return never<VerificationResult>();
      if (this.faults.verdictLost()) throw new VerifierUnavailableError('chaos: the verdict was lost on the way back', 0);
      return result;
    }, this.faults);
  }

  verifySubscription(purchaseData: string, jwsSubscriptionStatus: string): Promise<SubscriptionVerificationResult> {
    if (this.proc.dead || this.faults.reach('before-verify', this.proc)) return never<SubscriptionVerificationResult>();
    if (this.faults.verifierDown()) {
      return Promise.reject(new VerifierUnavailableError('chaos: the verification service is unreachable', 0));
    }
    if (hung(this.faults, 'verify', this.proc)) return never<SubscriptionVerificationResult>();
    return guard(this.proc, async () => {
      const result = await this.inner.verifySubscription(purchaseData, jwsSubscriptionStatus);
      if (this.faults.reach('after-verify', this.proc)) return never<SubscriptionVerificationResult>();
      if (this.faults.verdictLost()) throw new VerifierUnavailableError('chaos: the verdict was lost on the way back', 0);
      return result;
    }, this.faults);
  }
}

/** Counts grant/revoke calls, so the ledger wrapper knows which transactions delivered something. */
export class DeliveryCounter {
  count = 0;
}

export class ChaosGranterPort implements Granter {
  constructor(
    private readonly inner: Granter,
    private readonly proc: AppProcess,
    private readonly faults: FaultControl,
    private readonly deliveries: DeliveryCounter,
  ) {}

  prepare(tx: GrantTransaction): Promise<void> {
    return guard(this.proc, () => this.inner.prepare(tx));
  }

  grant(order: VerifiedOrder, tx: GrantTransaction): Promise<void> {
    return guard(this.proc, async () => {
      await this.inner.grant(order, tx);
      this.deliveries.count++;
      // Dying here leaves the grant written inside the open transaction, not committed.
      if (this.faults.reach('after-grant', this.proc)) return never<void>();
    });
  }

  revoke(record: DeliveryRecord, tx: GrantTransaction): Promise<void> {
    return guard(this.proc, async () => {
      await this.inner.revoke(record, tx);
      this.deliveries.count++;
    });
  }
}

export class ChaosLedger implements DeliveryLedger {
  constructor(
    private readonly inner: DeliveryLedger,
    private readonly proc: AppProcess,
    private readonly faults: FaultControl,
    private readonly deliveries: DeliveryCounter,
  ) {}

  open(): Promise<void> {
    return guard(this.proc, () => this.inner.open());
  }

  close(): Promise<void> {
    return guard(this.proc, () => this.inner.close());
  }

  find(purchaseOrderId: string): Promise<DeliveryRecord | undefined> {
    if (hung(this.faults, 'ledger-find', this.proc)) return never<DeliveryRecord | undefined>();
    return guard(this.proc, () => this.inner.find(purchaseOrderId), this.faults);
  }

  save(record: DeliveryRecord): Promise<void> {
    return guard(this.proc, () => this.inner.save(record));
  }

  transact<T>(work: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    if (hung(this.faults, 'ledger-transact', this.proc)) return never<T>();
    return guard(this.proc, async () => {
      const before = this.deliveries.count;
      const result = await this.inner.transact(work);
      // Dying here: the grant (or revocation) and its ledger row are committed; nothing after it ran.
      if (this.deliveries.count !== before && this.faults.reach('after-commit', this.proc)) return never<T>();
      return result;
    }, this.faults);
  }

  list(states: string[], limit: number): Promise<DeliveryRecord[]> {
    return guard(this.proc, () => this.inner.list(states, limit));
  }

  listOldestUpdated(state: string, updatedBefore: number, after: DeliveryRecord | undefined, limit: number): Promise<DeliveryRecord[]> {
    return guard(this.proc, () => this.inner.listOldestUpdated(state, updatedBefore, after, limit));
  }

  counts(): Promise<LedgerCounts> {
    if (hung(this.faults, 'ledger-counts', this.proc)) return never<LedgerCounts>();
    return guard(this.proc, () => this.inner.counts(), this.faults);
  }

  nextRetryAt(now: number): Promise<number> {
    return guard(this.proc, () => this.inner.nextRetryAt(now));
  }

  listSubscriptions(): Promise<SubscriptionEntitlement[]> {
    return guard(this.proc, () => this.inner.listSubscriptions());
  }
}
