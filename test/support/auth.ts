import { signWriteToken } from '../../service/src/auth/tokens';

/** The HS256 key the tests' services verify with: long enough for the service's 32-byte floor, and never a real one. */
export const TEST_SIGNING_KEY = 'test-only-signing-key-0123456789abcdef';

/** The env a service under test needs to verify write tokens, to spread into its env. */
export const TEST_AUTH_ENV = { AUTH_SIGNING_KEY: TEST_SIGNING_KEY } as const;

/** A write token for `subject`, signed with `key` (the tests' own unless given), living `ttlSeconds`. */
export function testWriteToken(subject = 'test-writer', key = TEST_SIGNING_KEY, ttlSeconds = 3600): Promise<string> {
  return signWriteToken(new TextEncoder().encode(key), subject, ttlSeconds);
}

/** `{ Authorization: 'Bearer <token>' }` for a write token of `subject`, for clients that take a header object. */
export async function writeHeaders(subject?: string): Promise<Record<string, string>> {
  return { Authorization: `Bearer ${await testWriteToken(subject)}` };
}
