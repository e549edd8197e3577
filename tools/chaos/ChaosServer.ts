// The real reference server (server/src) for the chaos schedules whose device verifies through RemoteVerifier.
// Loaded outside the chaos bundle (tsx), from server/src or from a deliberately broken copy of it (Mutants.ts), so the
// device bundle's simulated SQLite deaths never touch the server's own database.
//
// The harness asks for server-side confirm delivery with a confirmer that finishes the order at the IAP Kit simulator
// (what HuaweiIapClient's shipped/confirm does at the store). The device grants in these schedules, so the shipped
// server refuses confirm (no grant hook: only the device knows when its grant is durable) and runs without it; a
// server that accepted it would finish orders the device has not granted yet, which the schedules must catch.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../check/EtsProject';
import type { RemoteServer, RemoteServerFactory, RemoteServerSetup } from './ChaosWorld';

type ServerModule = typeof import('../../server/src/index');

export function remoteServerFactory(serverSrc: string = path.join(ROOT, 'server', 'src')): RemoteServerFactory {
  let loaded: Promise<ServerModule> | undefined;
  return async (setup: RemoteServerSetup): Promise<RemoteServer> => {
    const server = await (loaded ??= import(path.join(serverSrc, 'index.ts')) as Promise<ServerModule>);
    const base = {
      host: '127.0.0.1',
      port: 0,
      trustedRootPem: setup.rootPem,
      appId: setup.appId,
      environment: setup.environment as import('../../server/src/index').IapEnvironment,
      databasePath: setup.databasePath,
      logger: false as const,
      now: setup.now,
    };
    const confirm = {
      async confirm(req: { purchaseOrderId: string; purchaseToken: string; productType: string | number }): Promise<'confirmed'> {
        try {
          await setup.finish(req.purchaseOrderId, req.purchaseToken, Number(req.productType));
        } catch (e) {
          throw new server.ConfirmError(`store finish failed: ${(e as Error).message}`, true);
        }
        return 'confirmed';
      },
    };
    let running;
    let confirming = true;
    try {
      running = await server.startServer({ ...base, confirm });
    } catch (e) {
      if (!(e instanceof server.ConfigError)) throw e;
      confirming = false;
      running = await server.startServer(base);
    }
    const parts = running;
    return {
      url: parts.url,
      confirming,
      close: async (): Promise<void> => {
        await parts.close();
        for (const suffix of ['', '-wal', '-shm']) fs.rmSync(setup.databasePath + suffix, { force: true });
      },
    };
  };
}
