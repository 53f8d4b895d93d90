import { signingKeyFromEnv } from './auth/config';
import { signWriteToken } from './auth/tokens';

/** How long a token from the CLI lives unless `--ttl` says: a working day. */
export const CLI_TOKEN_TTL_SECONDS = 8 * 3600;

/**
 * `node service/dist/token.js [--subject <name>] [--ttl <seconds>]` (`npm run token -- ...`):
 * prints a write token signed with the environment's key (AUTH_SIGNING_KEY or
 * AUTH_SIGNING_KEY_FILE, as the API reads it), for scripts, tests and people trying the API.
 * Exit 2 on bad usage or no key.
 */
export async function token(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const options = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    if (!['--subject', '--ttl'].includes(args[i]) || args[i + 1] === undefined) throw new Error('usage: token [--subject <name>] [--ttl <seconds>]');
    options.set(args[i], args[i + 1]);
  }
  const subject = options.get('--subject') ?? 'cli';
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(subject)) throw new Error('--subject must be 1-64 letters, digits or \'._@-\'');
  const ttl = Number(options.get('--ttl') ?? CLI_TOKEN_TTL_SECONDS);
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 30 * 86_400) throw new Error('--ttl must be whole seconds from 60 to 2592000');
  const key = signingKeyFromEnv(env);
  if (!key) throw new Error('set AUTH_SIGNING_KEY or AUTH_SIGNING_KEY_FILE to the key the API verifies with');
  return signWriteToken(key, subject, ttl);
}

if (require.main === module) {
  token(process.argv.slice(2), process.env).then(text => {
    process.stdout.write(`${text}\n`);
  }, (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  });
}
