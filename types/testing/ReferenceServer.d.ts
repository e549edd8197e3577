// ArkTS-facing declaration of tools/testing/ReferenceServer.ts (Node-only test support, imported by .ets suites as
// 'types/testing/ReferenceServer' (a relative import)): the real app server of server/ in a child process, with sessions of a test login.
import { TestPki } from './TestPki';

/** A new consumable order signed by the PKI the server pins. */
export interface ReferenceOrder {
  purchaseOrderId: string;
  purchaseData: string;
  jws: string;
}

export interface ReferenceServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly baseUrl: string;
  /** The PKI the server pins as its root (sign subscription vectors with it). */
  readonly pki: TestPki;
  /** A new order; a non-empty developerPayload is signed into it; `unpaid`: no purchaseTime (payment not complete). */
  order(developerPayload: string, unpaid?: boolean): ReferenceOrder;
  /** A valid session token of the test login for the account. */
  session(accountId: string): string;
  /** A session token that expired an hour ago. */
  expiredSession(accountId: string): string;
  /** A session token signed with another secret. */
  forgedSession(accountId: string): string;
  close(): Promise<void>;
}

export declare function startReferenceServer(appId: string): Promise<ReferenceServer>;
