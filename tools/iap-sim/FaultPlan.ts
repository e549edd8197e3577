// Operator-injected failures for the IAP Kit simulator: "the next N calls of function F fail with code C".
// A rule either fails the call before it has any effect (the request never reached the store), or lets the
// call take effect and then loses the answer on the way back (`applied`: the cruel variants — the payment
// went through, or the finish was recorded, but the app only sees an error).

/** The simulated functions, by their `iap.<name>`. */
export type IapFunction =
  | 'queryEnvironmentStatus'
  | 'queryProducts'
  | 'createPurchase'
  | 'finishPurchase'
  | 'queryPurchases'
  | 'showManagedSubscriptions'
  | 'isSandboxActivated'
  | 'createRefundRequest';

export const IAP_FUNCTIONS: readonly IapFunction[] = [
  'queryEnvironmentStatus',
  'queryProducts',
  'createPurchase',
  'finishPurchase',
  'queryPurchases',
  'showManagedSubscriptions',
  'isSandboxActivated',
  'createRefundRequest',
];

/** What a call is about, for rules that target particular calls. */
export interface CallFacts {
  fn: IapFunction;
  productId?: string;
  productType?: number;
  queryType?: number;
  purchaseOrderId?: string;
  /** queryPurchases: true for a follow-up page (a continuationToken was passed). */
  continued?: boolean;
}

export interface FaultRule {
  /** The function to fail, or '*' for any. */
  fn: IapFunction | '*';
  /** The BusinessError code the app receives. */
  code: number;
  /** How many matching calls fail (default 1; Infinity = until cleared). */
  count?: number;
  /** Matching calls to let through before failing (default 0). */
  skip?: number;
  /** true: the call takes effect, then the answer is lost (only meaningful for createPurchase / finishPurchase). */
  applied?: boolean;
  /** Error message (default: a message in the style of the real kit for that code). */
  message?: string;
  /** Only calls with these facts match (each given field must be equal). */
  where?: Partial<Omit<CallFacts, 'fn'>>;
}

interface ArmedRule {
  rule: FaultRule;
  remaining: number;
  toSkip: number;
}

export class FaultPlan {
  private rules: ArmedRule[] = [];

  add(rule: FaultRule): void {
    const count = rule.count ?? 1;
    if (!(count > 0)) throw new RangeError(`FaultRule.count must be positive, got ${count}`);
    this.rules.push({ rule, remaining: count, toSkip: rule.skip ?? 0 });
  }

  clear(): void {
    this.rules = [];
  }

  get pending(): number {
    return this.rules.length;
  }

  /** The rule that fires for this call, if any; consumes one use of it. Rules are tried in the order added. */
  take(facts: CallFacts): FaultRule | undefined {
    for (const armed of this.rules) {
      if (!FaultPlan.matches(armed.rule, facts)) continue;
      if (armed.toSkip > 0) {
        armed.toSkip--;
        continue;
      }
      armed.remaining--;
      if (armed.remaining <= 0) this.rules = this.rules.filter((r) => r !== armed);
      return armed.rule;
    }
    return undefined;
  }

  private static matches(rule: FaultRule, facts: CallFacts): boolean {
    if (rule.fn !== '*' && rule.fn !== facts.fn) return false;
    const where = rule.where;
    if (!where) return true;
    for (const key of Object.keys(where) as Array<keyof typeof where>) {
      if (where[key] !== undefined && where[key] !== facts[key]) return false;
    }
    return true;
  }
}
