import { ReadThroughCache } from '../service/src/cache/cache';
import { QueryRouter } from '../service/src/db/router';
import { HealthState } from '../service/src/health/health';

const SECRET_TEXT = 'connect ECONNREFUSED 10.0.3.7:5432 (db-primary-0.db.prod.svc)';

function state(primaryUp: boolean, cacheUp: boolean, replicaHealthy = false): HealthState {
  const router = {
    pingPrimary: async () => { if (!primaryUp) throw new Error(SECRET_TEXT); return 3; },
    replicaStates: () => [{ name: 'db-1:5432', healthy: replicaHealthy, leading: false, lagMs: null, lagBytes: null, replayLsn: null, lastError: replicaHealthy ? null : SECRET_TEXT }],
  } as unknown as QueryRouter;
  const cache = { enabled: true, ping: async () => { if (!cacheUp) throw new Error(`redis ${SECRET_TEXT}`); return 1; } } as unknown as ReadThroughCache;
  const health = new HealthState(router, cache, '1.0.0');
  health.migrated = true;
  return health;
}

test('throws error, when the primary is down and no replica is healthy: readiness says down, without the error\'s text', async () => {
  const answer = await state(false, true).readiness();
  expect(answer).toEqual({ ready: false, checks: { primary: 'down', replicas: '0/1 healthy' } });
  expect(JSON.stringify(answer)).not.toContain('10.0.3.7');
});

test('without the primary but with a healthy replica, readiness passes (reads go on) and still shows no error text', async () => {
  const answer = await state(false, true, true).readiness();
  expect(answer).toEqual({ ready: true, checks: { primary: 'down', replicas: '1/1 healthy', cache: 'ok (1 ms)' } });
});

test('a cache that is down is reported degraded, without the error\'s text, and readiness passes', async () => {
  const answer = await state(true, false).readiness();
  expect(answer).toEqual({ ready: true, checks: { primary: 'ok (3 ms)', cache: 'degraded', replicas: '0/1 healthy' } });
  expect(JSON.stringify(answer)).not.toContain('10.0.3.7');
});

test('/health carries no error text either', async () => {
  const report = await state(false, false).report();
  expect(JSON.stringify(report)).not.toContain('ECONNREFUSED');
  expect(report.checks.primary).toEqual({ status: 'down' });
});
