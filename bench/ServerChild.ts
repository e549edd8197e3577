// The reference app server in its own process for item 4 (so that the load generator and the server do not share an
// event loop). Started by ServerBench with fork(); receives a ServerChildConfig, answers { url } once listening,
// and closes cleanly (in-flight requests, SQLite) on a 'close' message or when the parent goes away.
import { startServer, type RunningServer } from '../server/src/App';

export interface ServerChildConfig {
  trustedRootPem: string;
  appId: string;
  databasePath: string;
}

export type ServerChildReply = { url: string } | { error: string } | { closed: true };

function reply(message: ServerChildReply): void {
  process.send?.(message);
}

let server: RunningServer | undefined;

async function stop(): Promise<void> {
  if (server) await server.close();
  server = undefined;
}

process.on('message', (message: ServerChildConfig | 'close') => {
  if (message === 'close') {
    stop().then(
      () => {
        reply({ closed: true });
        process.disconnect?.();
      },
      (e: unknown) => reply({ error: String(e) }),
    );
    return;
  }
  startServer({
    host: '127.0.0.1',
    port: 0,
    trustedRootPem: message.trustedRootPem,
    appId: message.appId,
    environment: 'SANDBOX',
    databasePath: message.databasePath,
    logger: false,
  }).then(
    (s) => {
      server = s;
      reply({ url: s.url });
    },
    (e: unknown) => reply({ error: e instanceof Error ? e.message : String(e) }),
  );
});

process.on('disconnect', () => {
  void stop().finally(() => process.exit(0));
});
