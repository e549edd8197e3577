// The app side of delivery for the chaos harness: a gem wallet, season passes and owned non-consumables kept IN
// THE SAME RDB STORE as the delivery ledger, written through the ledger's GrantTransaction, plus one log row per
// grant and per revocation. Because everything commits (or vanishes) with the ledger row, "granted exactly once"
// can be checked from the file after any crash. The log rows carry what the granter was shown, so the invariants
// can tell a grant of a revoked, foreign or forged order from a legitimate one.
import type { DeliveryRecord, GrantTransaction, Granter, VerifiedOrder } from '@zerolost/iap';

/** Gems per unit of each consumable (app logic; IAP only knows quantities). */
export const GEMS_PER_UNIT: Readonly<Record<string, number>> = { gems_100: 100, gems_550: 550, gems_1200: 1200 };

const CONSUMABLE = 0;
const NONCONSUMABLE = 1;
const NONRENEWABLE = 3;

export const GRANTER_SCHEMA: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS chaos_wallet (id INTEGER PRIMARY KEY CHECK (id = 1), gems INTEGER NOT NULL, passes INTEGER NOT NULL)',
  'INSERT OR IGNORE INTO chaos_wallet (id, gems, passes) VALUES (1, 0, 0)',
  'CREATE TABLE IF NOT EXISTS chaos_owned (product_id TEXT PRIMARY KEY, order_id TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS chaos_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, order_id TEXT NOT NULL, ' +
    'product_id TEXT NOT NULL, product_type INTEGER NOT NULL, quantity INTEGER NOT NULL, gems INTEGER NOT NULL, ' +
    'application_id TEXT NOT NULL, environment TEXT NOT NULL, payload_revoked INTEGER NOT NULL, paid INTEGER NOT NULL, ' +
    "store_seq INTEGER NOT NULL, account TEXT NOT NULL DEFAULT '', payload_account TEXT NOT NULL DEFAULT '')",
];

/** Supplies the store's logical time, so log rows can be ordered against refunds and finishes. */
export type StoreSeqSource = () => number;

/** The app's signed-in player when a grant happens ('' for nobody). */
export type AccountSource = () => string;

export class ChaosGranter implements Granter {
  constructor(private readonly storeSeq: StoreSeqSource, private readonly account: AccountSource = () => '') {}

  async prepare(tx: GrantTransaction): Promise<void> {
    for (const sql of GRANTER_SCHEMA) await tx.executeSql(sql);
  }

  async grant(order: VerifiedOrder, tx: GrantTransaction): Promise<void> {
    const gems = (GEMS_PER_UNIT[order.productId] ?? 0) * order.quantity;
    if (order.productType === CONSUMABLE) {
      await tx.executeSql('UPDATE chaos_wallet SET gems = gems + ? WHERE id = 1', [gems]);
    } else if (order.productType === NONRENEWABLE) {
      await tx.executeSql('UPDATE chaos_wallet SET passes = passes + ? WHERE id = 1', [order.quantity]);
    } else if (order.productType === NONCONSUMABLE) {
      await tx.executeSql('INSERT OR REPLACE INTO chaos_owned (product_id, order_id) VALUES (?, ?)',
        [order.productId, order.purchaseOrderId]);
    }
    const p = order.payload;
    const revoked = p.purchaseOrderRevocationReasonCode !== undefined && p.purchaseOrderRevocationReasonCode !== '' ? 1 : 0;
    const paid = typeof p.purchaseTime === 'number' && p.purchaseTime > 0 ? 1 : 0;
    await tx.executeSql(
      'INSERT INTO chaos_log (kind, order_id, product_id, product_type, quantity, gems, application_id, environment, ' +
        'payload_revoked, paid, store_seq, account, payload_account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ['grant', order.purchaseOrderId, order.productId, order.productType, order.quantity, gems, p.applicationId, p.environment,
        revoked, paid, this.storeSeq(), this.account(), p.developerPayload ?? ''],
    );
  }

  async revoke(record: DeliveryRecord, tx: GrantTransaction): Promise<void> {
    const gems = (GEMS_PER_UNIT[record.productId] ?? 0) * record.quantity;
    if (record.productType === CONSUMABLE) {
      await tx.executeSql('UPDATE chaos_wallet SET gems = gems - ? WHERE id = 1', [gems]);
    } else if (record.productType === NONRENEWABLE) {
      await tx.executeSql('UPDATE chaos_wallet SET passes = passes - ? WHERE id = 1', [record.quantity]);
    } else if (record.productType === NONCONSUMABLE) {
      await tx.executeSql('DELETE FROM chaos_owned WHERE product_id = ? AND order_id = ?', [record.productId, record.purchaseOrderId]);
    }
    await tx.executeSql(
      'INSERT INTO chaos_log (kind, order_id, product_id, product_type, quantity, gems, application_id, environment, ' +
        "payload_revoked, paid, store_seq) VALUES ('revoke', ?, ?, ?, ?, ?, '', '', 0, 0, ?)",
      [record.purchaseOrderId, record.productId, record.productType, record.quantity, gems, this.storeSeq()],
    );
  }
}
