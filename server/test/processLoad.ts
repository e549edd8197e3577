// Bounded load against a server process, for the crash tests (not a test file itself): every order is sent once,
// `concurrency` at a time; an order counts as acknowledged only when its 200 arrived.
import type { HttpResult } from './helpers';

export interface LoadOrder {
  id: string;
  pd: string;
}

export interface LoadOutcome {
  acknowledged: LoadOrder[];
  /** No answer (the connection died with the process) or an answer other than 200. */
  unanswered: LoadOrder[];
}

export async function sendBounded(
  orders: readonly LoadOrder[],
  concurrency: number,
  send: (o: LoadOrder) => Promise<HttpResult>,
  onAck: (o: LoadOrder, r: HttpResult) => void = () => undefined,
): Promise<LoadOutcome> {
  const out: LoadOutcome = { acknowledged: [], unanswered: [] };
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < orders.length) {
        const o = orders[next++]!;
        let r: HttpResult | undefined;
        try {
          r = await send(o);
        } catch {
          r = undefined;
        }
        if (r?.status === 200) {
          out.acknowledged.push(o);
          onAck(o, r);
        } else {
          out.unanswered.push(o);
        }
      }
    }),
  );
  return out;
}
