import { createServer } from 'net';
import { BREAKER_COOLDOWN_MS, BREAKER_FAILURES, INVALIDATION_RETRY_MS, ReadThroughCache } from '../service/src/cache/cache';
import { CacheClient, cacheClientFromEnv } from '../service/src/cache/client';
import { itemKey, LIST_TAG } from '../service/src/cache/keys';
import { freePort, ProcessGroup, sleep, waitFor } from './support/processes';
import { infoField, redisCli, startRedisNode, startSentinelGroup, TEST_REDIS_PASSWORD, TEST_SENTINEL_PASSWORD } from './support/redis';

const KEY_A = itemKey('00000000-0000-4000-8000-00000000000a');
const KEY_RACE = itemKey('00000000-0000-4000-8000-0000000000ff');

const group = new ProcessGroup();
afterAll(() => group.cleanup(), 30_000);

/** An in-memory Redis for the cache's logic, with switches for the failures it must survive. */
function memoryClient(): CacheClient & { data: Map<string, string>; mode: 'ok' | 'hang' | 'fail' } {
  const data = new Map<string, string>();
  const client = {
    data,
    mode: 'ok' as 'ok' | 'hang' | 'fail',
    async run<T>(fn: () => T): Promise<T> {
      if (client.mode === 'hang') return new Promise<T>(() => undefined);
      if (client.mode === 'fail') throw new Error('ECONNREFUSED');
      return fn();
    },
    get: (key: string) => client.run(() => data.get(key) ?? null),
    set: (key: string, value: string) => client.run(() => { data.set(key, value); }),
    setIfUnchanged: (key: string, prefix: string | null, value: string) => client.run(() => {
      const current = data.get(key);
      if (prefix === null ? current !== undefined : !current?.startsWith(prefix)) return false;
      data.set(key, value);
      return true;
    }),
    del: (key: string) => client.run(() => { data.delete(key); }),
    ping: () => client.run(() => undefined),
    close: async () => undefined,
  };
  return client;
}

test('a second read is a hit; the loader runs once', async () => {
  const cache = new ReadThroughCache(memoryClient(), 60);
  const load = jest.fn(async () => ({ n: 1 }));
  expect(await cache.getOrLoad(KEY_A, [], load)).toEqual({ n: 1 });
  expect(await cache.getOrLoad(KEY_A, [], load)).toEqual({ n: 1 });
  expect(load).toHaveBeenCalledTimes(1);
  expect(cache.getStats()).toEqual({ hits: 1, misses: 1, errors: 0, invalidations: 0, pendingInvalidations: 0, hitRatio: 0.5 });
});

test('a lookup sends its reads of the versions and of the value together: one round trip, not two', async () => {
  // GIVEN a cached list under a tag, and a client that counts the reads sent before the first answer
  const client = memoryClient();
  const cache = new ReadThroughCache(client, 60);
  await cache.getOrLoad('items:list', ['items'], async () => ['a']);
  let sentBeforeAnswer = 0;
  let answered = false;
  const get = client.get;
  client.get = async key => {
    if (!answered) sentBeforeAnswer++;
    await new Promise(resolve => setImmediate(resolve));
    answered = true;
    return get(key);
  };

  // WHEN it is read again
  expect(await cache.getOrLoad('items:list', ['items'], async () => ['b'])).toEqual(['a']);

  // THEN the value with its own version, and the tag's version, were both asked for before any answer came
  expect(sentBeforeAnswer).toBe(2);
});

test('an item\'s hit is one GET of its version key, which holds the entry, and is the stored JSON text, not parsed and serialized again', async () => {
  // GIVEN an item cached by getOrLoad, and a client counting the commands sent
  const client = memoryClient();
  const cache = new ReadThroughCache(client, 60);
  await cache.getOrLoad(KEY_A, [], async () => ({ id: 'a', n: 1 }));
  const get = jest.spyOn(client, 'get');

  // WHEN it is read as JSON text
  const json = await cache.getOrLoadJson(KEY_A, [], async () => ({ id: 'a', n: 2 }));

  // THEN the text is what JSON.stringify gives, stored after the version (0: never written) in one key, and one GET read it
  expect(json).toBe('{"id":"a","n":1}');
  expect(JSON.parse(client.data.get(`${KEY_A}|version`)!)).toEqual({ version: '0', token: '', expires: expect.any(Number), tags: '', value: { id: 'a', n: 1 } });
  expect(get).toHaveBeenCalledTimes(1);
  expect([...client.data.keys()]).toEqual([`${KEY_A}|version`]);
  expect(cache.getStats()).toMatchObject({ hits: 1, misses: 1 });
});

test('an entry past its expiry, under other tag versions, without a value, or of an unknown form is a miss for the JSON reader too', async () => {
  const client = memoryClient();
  const cache = new ReadThroughCache(client, 60);
  const entry = (fields: object) => client.data.set(`${KEY_A}|version`, JSON.stringify({ version: '1.old', token: '0/1', ...fields }));
  entry({ expires: Date.now() - 1, tags: '', value: { n: 'expired' } });
  expect(await cache.getOrLoadJson(KEY_A, [], async () => ({ n: 'fresh' }))).toBe('{"n":"fresh"}');
  entry({ expires: Date.now() + 60_000, tags: 'items=1.old', value: { n: 'other tags' } });
  expect(await cache.getOrLoadJson(KEY_A, [], async () => ({ n: 'again' }))).toBe('{"n":"again"}');
  client.data.set(`${KEY_A}|version`, `{"version":"1.old","token":"0/1","expires":${Date.now() + 60_000},"tags":"","value":}`);
  expect(await cache.getOrLoadJson(KEY_A, [], async () => ({ n: 'valueless' }))).toBe('{"n":"valueless"}');
  client.data.set(`${KEY_A}|version`, JSON.stringify({ token: '0/1', version: '1.old', value: { n: 'unknown form' } }));
  expect(await cache.getOrLoadJson(KEY_A, [], async () => ({ n: 'unknown' }))).toBe('{"n":"unknown"}');
  // An unknown form is never stored over; the others were (the last, valueless, one was replaced).
  expect(client.data.get(`${KEY_A}|version`)).toContain('unknown form');
  expect(cache.getStats()).toMatchObject({ hits: 0, misses: 4 });
});

test('rollout: what the format before this one writes and reads of a version key, this one reads and keeps', async () => {
  // GIVEN an item cached by this format
  const client = memoryClient();
  const cache = new ReadThroughCache(client, 60);
  await cache.getOrLoad(KEY_A, [], async () => 'v1');
  // THEN a pod of the format before (a version key { version, token } read by JSON.parse, the entry in `|entry`) reads the version it knew: 0
  expect(JSON.parse(client.data.get(`${KEY_A}|version`)!)).toMatchObject({ version: '0', token: '' });

  // WHEN such a pod writes the item (it sets the version key only)
  client.data.set(`${KEY_A}|version`, JSON.stringify({ version: '1700000000000.abc', token: '0/20' }));
  // THEN this format misses, loads at that write's token, and stores keeping the write's version and token
  const load = jest.fn(async (token?: string) => `v2 at ${token}`);
  expect(await cache.getOrLoad(KEY_A, [], load)).toBe('v2 at 0/20');
  expect(await cache.getOrLoad(KEY_A, [], load)).toBe('v2 at 0/20');
  expect(load).toHaveBeenCalledTimes(1);
  expect(JSON.parse(client.data.get(`${KEY_A}|version`)!)).toMatchObject({ version: '1700000000000.abc', token: '0/20' });
});

test('bumping a tag orphans the values under it, and the next load carries the write\'s token', async () => {
  // GIVEN a cached list under the tag 'items'
  const client = memoryClient();
  const cache = new ReadThroughCache(client, 60);
  await cache.getOrLoad('items:list', ['items'], async () => ['old']);

  // WHEN a write invalidates the tag with its token
  await cache.invalidate(undefined, ['items'], '0/3000');

  // THEN the list reloads with that token, and no key was deleted (no multi-key command on a cluster)
  const load = jest.fn(async (token?: string) => [`new at ${token}`]);
  expect(await cache.getOrLoad('items:list', ['items'], load)).toEqual(['new at 0/3000']);
  expect(load).toHaveBeenCalledWith('0/3000');
  expect([...client.data.keys()].filter(k => k.startsWith('items:list'))).toEqual(['items:list|version']);
  expect([...client.data.keys()]).toContain('hscale:tag:{items}');
});

test('an invalidated item reloads with the token of the write that invalidated it', async () => {
  const cache = new ReadThroughCache(memoryClient(), 60);
  await cache.getOrLoad(KEY_A, [], async () => 'v1');
  await cache.invalidate(KEY_A, [], '1/0');
  const load = jest.fn(async (token?: string) => `v2 at ${token}`);
  expect(await cache.getOrLoad(KEY_A, [], load)).toBe('v2 at 1/0');
  expect(await cache.getOrLoad(KEY_A, [], load)).toBe('v2 at 1/0');
  expect(load).toHaveBeenCalledTimes(1);
});

test('a Redis that hangs costs at most the timeout, and the loader answers', async () => {
  const client = memoryClient();
  client.mode = 'hang';
  const errors = jest.fn();
  const cache = new ReadThroughCache(client, 60, 100, { onError: errors });
  const started = Date.now();
  expect(await cache.getOrLoad(KEY_A, ['items'], async () => 'from the database')).toBe('from the database');
  expect(Date.now() - started).toBeLessThan(400);
  await cache.invalidate(KEY_A, ['items'], '0/1');
  // The lookup's failure, and each of the write's two bumps (the key's version and the tag's)
  expect(errors).toHaveBeenCalledTimes(3);
  await expect(cache.ping()).rejects.toThrow('redis did not answer within 100 ms');
  await cache.close();
});

test('a Redis that fails is counted, and the loader answers', async () => {
  const client = memoryClient();
  client.mode = 'fail';
  const cache = new ReadThroughCache(client, 60);
  expect(await cache.getOrLoad(KEY_A, [], async () => 'from the database')).toBe('from the database');
  expect(cache.getStats()).toMatchObject({ hits: 0, errors: 1 });
});

test('a write\'s bump that Redis does not take is retried until it does; meanwhile its keys load at the write\'s token and the old entry is never served', async () => {
  // GIVEN a cached item and list
  const client = memoryClient();
  const cache = new ReadThroughCache(client, 60);
  await cache.getOrLoad(KEY_A, [LIST_TAG], async () => 'v1');
  expect(await cache.getOrLoad(KEY_A, [LIST_TAG], async () => 'not loaded')).toBe('v1');
  // WHEN the write's invalidation fails, and Redis answers again right after
  client.mode = 'fail';
  await cache.invalidate(KEY_A, [LIST_TAG], '2/0');
  client.mode = 'ok';
  expect(cache.getStats().pendingInvalidations).toBe(2);
  // THEN reads load at the write's token rather than serve the entry from before it, and store nothing
  const load = jest.fn(async (token?: string) => `v2 at ${token}`);
  const entriesBefore = new Map(client.data);
  expect(await cache.getOrLoad(KEY_A, [LIST_TAG], load)).toBe('v2 at 2/0');
  expect(client.data).toEqual(entriesBefore);
  // AND the retry bumps both versions within its interval, after which the cache serves and stores again
  await waitFor('the pending bumps to land', async () => cache.getStats().pendingInvalidations === 0, 5 * INVALIDATION_RETRY_MS, 20);
  expect(await cache.getOrLoad(KEY_A, [LIST_TAG], load)).toBe('v2 at 2/0');
  expect(await cache.getOrLoad(KEY_A, [LIST_TAG], load)).toBe('v2 at 2/0');
  expect(load).toHaveBeenCalledTimes(2);
  expect(cache.getStats()).toMatchObject({ hits: 2, invalidations: 0 });
  await cache.close();
});

test('a bump still pending at close is tried once more, and the newest failed write\'s token is the one kept', async () => {
  const client = memoryClient();
  const cache = new ReadThroughCache(client, 60);
  client.mode = 'fail';
  await cache.invalidate(KEY_A, [], '3/0');
  await cache.invalidate(KEY_A, [], '1/0');
  expect(await cache.getOrLoad(KEY_A, [], async token => `at ${token}`)).toBe('at 3/0');
  client.mode = 'ok';
  await cache.close();
  expect(cache.getStats().pendingInvalidations).toBe(0);
  expect(JSON.parse(client.data.get(`${KEY_A}|version`)!)).toMatchObject({ token: '3/0' });
});

test('after failures in a row Redis is skipped for a cooldown, then tried again', async () => {
  // GIVEN a Redis that fails, counting the calls that reach it
  const client = memoryClient();
  client.mode = 'fail';
  const get = jest.spyOn(client, 'get');
  const cache = new ReadThroughCache(client, 60);
  // A lookup of a key without tags is one GET (its version key, which holds the value).
  const lookups = BREAKER_FAILURES;
  for (let i = 0; i < lookups; i++) await cache.getOrLoad(`k${i}`, [], async () => 'db');
  expect(get).toHaveBeenCalledTimes(lookups);

  // WHEN more reads come during the cooldown, THEN they skip Redis (and still count as errors)
  expect(await cache.getOrLoad('k', [], async () => 'db')).toBe('db');
  expect(get).toHaveBeenCalledTimes(lookups);
  expect(cache.getStats().errors).toBe(lookups + 1);

  // WHEN Redis is back after the cooldown, THEN it is used again
  client.mode = 'ok';
  await sleep(BREAKER_COOLDOWN_MS + 50);
  await cache.getOrLoad('k', [], async () => 'db');
  expect(await cache.getOrLoad('k', [], async () => 'db')).toBe('db');
  expect(cache.getStats().hits).toBe(1);
});

test('loader errors (not found) reach the caller and are not cached', async () => {
  const cache = new ReadThroughCache(memoryClient(), 60);
  await expect(cache.getOrLoad(KEY_A, [], async () => { throw new Error('item a does not exist'); })).rejects.toThrow('item a does not exist');
  expect(await cache.getOrLoad(KEY_A, [], async () => 'created since')).toBe('created since');
});

test('no Redis configured: the cache is off and every read loads', async () => {
  expect(cacheClientFromEnv({})).toBeUndefined();
  const cache = new ReadThroughCache(undefined, 60);
  expect(cache.enabled).toBe(false);
  expect(await cache.getOrLoad('k', [], async () => 1)).toBe(1);
});

test('throws error, when REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER', () => {
  expect(() => cacheClientFromEnv({ REDIS_SENTINELS: '127.0.0.1:26379' })).toThrow('REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set');
});

test('a Redis that is down at start is served around, and used once it comes up', async () => {
  // GIVEN a client pointed at a port where nothing listens yet
  const port = await freePort();
  const client = cacheClientFromEnv({ REDIS_URL: `redis://127.0.0.1:${port}` })!;
  const cache = new ReadThroughCache(client, 60, 200);
  try {
    expect(await cache.getOrLoad('k', [], async () => 'from the database')).toBe('from the database');
    expect(cache.getStats().errors).toBe(1);

    // WHEN Redis starts on that port
    await sleep(300);
    group.spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);

    // THEN the cache connects by itself and serves hits
    await waitFor('cache hits', async () => {
      await cache.getOrLoad('k', [], async () => 'from the database');
      return cache.getStats().hits > 0;
    }, 15_000, 100);
  } finally {
    await cache.close();
  }
}, 30_000);

test('a client closed before it ever connected stops trying', async () => {
  // GIVEN a client retrying a port where nothing listens
  const port = await freePort();
  const client = cacheClientFromEnv({ REDIS_URL: `redis://127.0.0.1:${port}` })!;
  await sleep(300);

  // WHEN it is closed, and later something listens on that port
  await client.close();
  let connections = 0;
  const listener = createServer(socket => { connections++; socket.destroy(); });
  await new Promise<void>(resolve => listener.listen(port, '127.0.0.1', resolve));
  try {
    // THEN no retry arrives within the longest backoff (2 s) and a margin
    await sleep(3000);
    expect(connections).toBe(0);
  } finally {
    await new Promise(resolve => listener.close(resolve));
  }
}, 15_000);

test('with Sentinel, a master killed under load costs no failed read, and the cache follows the promoted replica', async () => {
  // GIVEN a master, 2 replicas and 3 Sentinels, and a warm cache
  const sentinel = await startSentinelGroup(group, { replicas: 2, sentinels: 3, quorum: 2, downAfterMs: 1000 });
  const client = cacheClientFromEnv({
    REDIS_SENTINELS: sentinel.sentinels.map(s => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_MASTER: sentinel.masterName, REDIS_USERNAME: 'app', REDIS_PASSWORD: TEST_REDIS_PASSWORD,
    REDIS_SENTINEL_PASSWORD: TEST_SENTINEL_PASSWORD,
  })!;
  const cache = new ReadThroughCache(client, 60, 200);
  try {
    await waitFor('cache hits', async () => {
      await cache.getOrLoad('k', [], async () => 'v');
      return cache.getStats().hits > 0;
    }, 15_000, 100);

    // WHEN the master dies while a reader reads, until the promotion and a few reads past it (bounded in count):
    // a loaded machine reads slower, so the reads are counted by when they ran, not by how many fit in a time
    const answers: { value: string; at: number }[] = [];
    let killedAt = Infinity;
    let promotedAt = Infinity;
    const readsSince = (at: number) => answers.filter(a => a.at > at).length;
    const reader = (async () => {
      for (let i = 0; i < 5000 && readsSince(promotedAt) < 5; i++) {
        const value = await cache.getOrLoad('k', [], async () => 'v');
        answers.push({ value, at: Date.now() });
        await sleep(10);
      }
    })();
    await sleep(200);
    await sentinel.master.stop('SIGKILL');
    killedAt = Date.now();
    await waitFor('a promoted replica', async () => {
      const info = await Promise.all(sentinel.replicas.map(r => redisCli(r.port, ['info', 'replication'])));
      return info.some(i => infoField(i, 'role') === 'master');
    }, 30_000, 200);
    promotedAt = Date.now();
    await reader;

    // THEN reads ran through the outage and after it, and every one answered
    expect(readsSince(killedAt) - readsSince(promotedAt)).toBeGreaterThan(0);
    expect(readsSince(promotedAt)).toBe(5);
    expect(answers.filter(a => a.value !== 'v')).toEqual([]);
    // AND writes and hits come back on the new master
    await waitFor('hits after the failover', async () => {
      const before = cache.getStats().hits;
      await cache.invalidate('k2', [], '0/1');
      await cache.getOrLoad('k2', [], async () => 'v2');
      await cache.getOrLoad('k2', [], async () => 'v2');
      return cache.getStats().hits > before;
    }, 30_000, 200);
  } finally {
    await cache.close();
  }
}, 60_000);

test('a read that loaded before a write cannot cache its old value after the write\'s invalidation; every key it leaves has a TTL', async () => {
  // GIVEN a real Redis, and a read of an uncached item whose load is held until the test lets it go
  const redis = await startRedisNode(group, { mode: 'standalone' });
  const client = cacheClientFromEnv({ REDIS_URL: `redis://127.0.0.1:${redis.port}`, REDIS_PASSWORD: TEST_REDIS_PASSWORD })!;
  const cache = new ReadThroughCache(client, 60, 1000);
  try {
    await waitFor('redis to connect', async () => (await client.ping().then(() => true, () => false)), 10_000, 50);
    let releaseOldLoad: (() => void) | undefined;
    const slowRead = cache.getOrLoad(KEY_RACE, [], () => new Promise<string>(resolve => { releaseOldLoad = () => resolve('old'); }));
    await waitFor('the slow read to miss and load', async () => releaseOldLoad !== undefined, 5_000, 5);

    // WHEN a write invalidates the item, and only then the slow read's load answers (with the value of before the write)
    await cache.invalidate(KEY_RACE, [LIST_TAG], '0/10');
    releaseOldLoad!();
    expect(await slowRead).toBe('old');
    // Its store is not awaited by the reader: a local Redis takes it well within this.
    await sleep(300);

    // THEN the next read does not get the old value: it loads, with the write's token
    const load = jest.fn(async (token?: string) => `new at ${token}`);
    expect(await cache.getOrLoad(KEY_RACE, [], load)).toBe('new at 0/10');
    expect(await cache.getOrLoad(KEY_RACE, [], load)).toBe('new at 0/10');
    expect(load).toHaveBeenCalledTimes(1);
    // and every key written carries a TTL (the shared Redis evicts with volatile-lru)
    const keys = (await redisCli(redis.port, ['--scan'])).split('\n').filter(Boolean);
    expect(keys.sort()).toEqual(['hscale:tag:{items}', `${KEY_RACE}|version`]);
    const ttls = await Promise.all(keys.map(async key => ({ key, ttl: Number(await redisCli(redis.port, ['ttl', key])) })));
    expect(ttls.filter(({ ttl }) => !(ttl > 0 && ttl <= 86_400))).toEqual([]);
    // The new value is stored in the write's version key, which keeps the write's TTL (a day, not the value's 60 s: the value carries its own expiry)
    expect(await redisCli(redis.port, ['get', `${KEY_RACE}|version`])).toContain('"value":"new at 0/10"');
    expect(ttls.find(({ key }) => key === `${KEY_RACE}|version`)!.ttl).toBeGreaterThan(60);
    // and a value stored where no write left a version expires with it
    await cache.getOrLoad(KEY_A, [], async () => 'never written');
    await waitFor('the store', async () => (await redisCli(redis.port, ['exists', `${KEY_A}|version`])).trim() === '1', 5_000, 20);
    expect(Number(await redisCli(redis.port, ['ttl', `${KEY_A}|version`]))).toBeLessThanOrEqual(60);
    // and one stored over a key about to expire expires with the value, not before it
    await cache.getOrLoad('items:list', [LIST_TAG], async () => ['a']);
    await waitFor('the list\'s store', async () => (await redisCli(redis.port, ['exists', 'items:list|version'])).trim() === '1', 5_000, 20);
    await cache.invalidate(undefined, [LIST_TAG], '0/11');
    await redisCli(redis.port, ['expire', 'items:list|version', '5']);
    expect(await cache.getOrLoad('items:list', [LIST_TAG], async () => ['a', 'b'])).toEqual(['a', 'b']);
    await waitFor('the list\'s new store', async () => (await redisCli(redis.port, ['get', 'items:list|version'])).includes('"b"'), 5_000, 20);
    expect(Number(await redisCli(redis.port, ['ttl', 'items:list|version']))).toBeGreaterThan(50);
  } finally {
    await cache.close();
    await redis.stop();
  }
}, 60_000);
