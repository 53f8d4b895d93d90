import { serviceConfigFromEnv } from '../service/src/config';

test('the defaults are those of the contract', () => {
  expect(serviceConfigFromEnv({})).toEqual({
    port: 8000, adminToken: undefined, bodyLimit: '100kb', shutdownTimeoutMs: 20_000, shutdownDelayMs: 0,
    cacheDefaultTtlSeconds: 300, cacheTimeoutMs: 250,
  });
});

test('env values are read', () => {
  expect(serviceConfigFromEnv({ PORT: '9000', ADMIN_TOKEN: 't', BODY_LIMIT: '1mb', SHUTDOWN_TIMEOUT_MS: '5000', SHUTDOWN_DELAY_MS: '100', CACHE_DEFAULT_TTL: '60', CACHE_TIMEOUT_MS: '50' }))
    .toEqual({ port: 9000, adminToken: 't', bodyLimit: '1mb', shutdownTimeoutMs: 5000, shutdownDelayMs: 100, cacheDefaultTtlSeconds: 60, cacheTimeoutMs: 50 });
});

test('throws error, when PORT is not a port', () => {
  expect(() => serviceConfigFromEnv({ PORT: '80a' })).toThrow('PORT ("80a") must be an integer from 1 to 65535');
});

test('throws error, when CACHE_DEFAULT_TTL is zero', () => {
  expect(() => serviceConfigFromEnv({ CACHE_DEFAULT_TTL: '0' })).toThrow('CACHE_DEFAULT_TTL ("0") must be an integer from 1 to 86400');
});

test('throws error, when BODY_LIMIT is not a size', () => {
  expect(() => serviceConfigFromEnv({ BODY_LIMIT: 'big' })).toThrow('BODY_LIMIT ("big") must be a size such as 100kb or 1mb');
});
