import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { secretFromEnv } from '../service/src/env';

const dir = mkdtempSync(join(tmpdir(), 'hscale-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

test('a secret is read from its variable, or from the file <name>_FILE names with one trailing newline dropped', () => {
  expect(secretFromEnv({ ADMIN_TOKEN: 'from-env' }, 'ADMIN_TOKEN')).toBe('from-env');
  expect(secretFromEnv({ ADMIN_TOKEN_FILE: secretFile('admin', 'from-file\n') }, 'ADMIN_TOKEN')).toBe('from-file');
  // Only one newline: a value that ends in whitespace keeps the rest.
  expect(secretFromEnv({ ADMIN_TOKEN_FILE: secretFile('spaced', 'v \n\n') }, 'ADMIN_TOKEN')).toBe('v \n');
  expect(secretFromEnv({}, 'ADMIN_TOKEN')).toBeUndefined();
  expect(secretFromEnv({ ADMIN_TOKEN: '' }, 'ADMIN_TOKEN')).toBeUndefined();
  expect(secretFromEnv({ ADMIN_TOKEN_FILE: secretFile('empty', '\n') }, 'ADMIN_TOKEN')).toBeUndefined();
});

test('throws error, when both forms are set or the file cannot be read, naming the variable and never the value', () => {
  expect(() => secretFromEnv({ REDIS_PASSWORD: 'p', REDIS_PASSWORD_FILE: '/x' }, 'REDIS_PASSWORD')).toThrow('set REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both');
  const missing = join(dir, 'missing');
  expect(() => secretFromEnv({ REDIS_PASSWORD_FILE: missing }, 'REDIS_PASSWORD')).toThrow(`REDIS_PASSWORD_FILE names a file that cannot be read: ${missing}`);
});
