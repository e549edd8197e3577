// `node --import tsx server/src/auth/MintSession.ts <accountId> [--binding <b>] [--ttl <seconds>]`: prints a session
// token the server accepts, signed with SESSION_SECRET / SESSION_SECRET_FILE or the development secret under
// server/data (what `npm start` uses). What your login service does after a sign-in; for development and curl.
import * as path from 'node:path';
import { ConfigError, sessionSettingsFromEnv } from '../Config';
import { mintSessionToken } from './SessionTokenAuthenticator';

function main(argv: string[]): void {
  const accountId = argv[0];
  if (!accountId || accountId.startsWith('-')) throw new ConfigError('usage: MintSession.ts <accountId> [--binding <b>] [--ttl <seconds>]');
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i > 0 ? argv[i + 1] : undefined;
  };
  const dataDir = path.resolve(process.env['SERVER_DATA_DIR'] || path.join(__dirname, '..', '..', 'data'));
  const s = sessionSettingsFromEnv(process.env, path.join(dataDir, 'dev-session.key'));
  if (!s) throw new ConfigError('SESSION_AUTH=off: the server takes no sessions');
  const ttl = opt('--ttl');
  process.stdout.write(
    `${mintSessionToken({ secret: s.secrets[0]!, issuer: s.issuer, audience: s.audience, accountId, binding: opt('--binding'), ttlSeconds: ttl ? Number(ttl) : undefined })}\n`,
  );
}

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
