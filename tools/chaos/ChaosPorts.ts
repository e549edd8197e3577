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

/** Decides, at each fault point, whether the process dies there (and kills it if so). */
export interface FaultControl {
  reach(point: CrashPoint, proc: AppProcess): boolean;
  /** True when this verification must fail as "verifier unreachable". */
  verifierDown(): boolean;
}

/** A promise that never settles: what a dead process waits for. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/** Runs `op` for a live process; once the process is dead neither its result nor its error is ever delivered. */
function guard<T>(proc: AppProcess, op: () => Promise<T>): Promise<T> {
  if (proc.dead) return never<T>();
  return op().then(
    (v) => (proc.dead ? never<T>() : v),
    (e: unknown) => (proc.dead ? never<T>() : Promise.reject(e)),
  );
}

export class ChaosStoreGateway implements StoreGateway {
  constructor(private readonly inner: StoreGateway, private readonly proc: AppProcess, private readonly faults: FaultControl) {}

  queryPurchases(productType: number, queryType: number, continuationToken?: string): Promise<PurchasePage> {
    return guard(this.proc, () => this.inner.queryPurchases(productType, queryType, continuationToken));
  }

  finishPurchase(productType: number, purchaseToken: string, purchaseOrderId: string): Promise<void> {
    if (this.proc.dead || this.faults.reach('before-finish', this.proc)) return never<void>();
    return guard(this.proc, async () => {
      let failure: unknown;
      try {
        await this.inner.finishPurchase(productType, purchaseToken, purchaseOrderId);
      } catch (e) {
        failure = e;
      }
      if (this.faults.reach('after-finish', this.proc)) return never<void>();
      if (failure !== undefined) throw failure;
    });
  }

  createPurchase(productId: string, productType: number, developerPayload?: string, quantity?: number): Promise<string> {
    return guard(this.proc, () => this.inner.createPurchase(productId, productType, developerPayload, quantity));
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
    return guard(this.proc, async () => {
      const result = await this.inner.verify(purchaseData, jwsPurchaseOrder);
      if (this.faults.reach('after-verify', this.proc)) return never<VerificationResult>();
      return result;
    });
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
    return guard(this.proc, () => this.inner.find(purchaseOrderId));
  }

  save(record: DeliveryRecord): Promise<void> {
    return guard(this.proc, () => this.inner.save(record));
  }

  transact<T>(work: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    return guard(this.proc, async () => {
      const before = this.deliveries.count;
      const result = await this.inner.transact(work);
      // Dying here: the grant (or revocation) and its ledger row are committed; nothing after it ran.
      if (this.deliveries.count !== before && this.faults.reach('after-commit', this.proc)) return never<T>();
      return result;
    });
  }

  list(states: string[], limit: number): Promise<DeliveryRecord[]> {
    return guard(this.proc, () => this.inner.list(states, limit));
  }

  listOldestUpdated(state: string, updatedBefore: number, after: DeliveryRecord | undefined, limit: number): Promise<DeliveryRecord[]> {
    return guard(this.proc, () => this.inner.listOldestUpdated(state, updatedBefore, after, limit));
  }

  counts(): Promise<LedgerCounts> {
    return guard(this.proc, () => this.inner.counts());
  }

  nextRetryAt(now: number): Promise<number> {
    return guard(this.proc, () => this.inner.nextRetryAt(now));
  }
}
