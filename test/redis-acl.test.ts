import { Queue, Worker } from 'bullmq';
import { createClient, createCluster } from 'redis';
import { redisAclUsers, renderRedisAcl } from '../lib/redis/redis-acl';
import { freePort, ProcessGroup, run, waitFor } from './support/processes';
import {
  infoField, redisCli, RedisNode, runClusterCreate, startRedisNode, startSentinelGroup, TEST_SENTINEL_PASSWORD, testAclPasswords,
} from './support/redis';

jest.setTimeout(120_000);

type Client = ReturnType<typeof createClient>;

const group = new ProcessGroup();
const clients: { destroy(): void }[] = [];
afterAll(async () => {
  clients.forEach(c => c.destroy());
  await group.cleanup();
});

/** A node-redis client of one user of the server on `port`; the user's password is the test one of its env var. */
async function loginAs(port: number, user: string, mode: 'cluster' | 'sentinel' | 'standalone' = 'standalone'): Promise<Client> {
  const passwordEnv = redisAclUsers({ mode, queuePrefixes: ['{hscale}'] }).find(u => u.name === user)!.passwordEnv;
  const client = createClient({ url: `redis://127.0.0.1:${port}`, username: user, password: testAclPasswords(mode)[passwordEnv], socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

const refused = (promise: Promise<unknown>) => expect(promise).rejects.toThrow(/NOPERM/);

test('renderRedisAcl turns default off and names each user with a password placeholder, and only the mode\'s peers', () => {
  const acl = renderRedisAcl({ mode: 'sentinel', queuePrefixes: ['{hscale}', 'q[1]'] });
  expect(acl).toContain('user default off resetpass resetkeys resetchannels -@all\n');
  expect(acl).toContain('user keda on #{REDIS_KEDA_PASSWORD} resetkeys resetchannels -@all +ping +llen +cluster|slots +cluster|shards %R~{hscale}:* %R~q\\[1\\]:*\n');
  expect(acl.match(/^user \S+/gm)).toEqual(['user default', 'user app', 'user exporter', 'user keda', 'user replication', 'user sentinel']);
  expect(renderRedisAcl({ mode: 'standalone', queuePrefixes: [] }).match(/^user \S+/gm)).toEqual(['user default', 'user app', 'user exporter', 'user keda']);
  expect(renderRedisAcl({ mode: 'cluster', queuePrefixes: [] })).toMatch(/^user operator on #\{REDIS_OPERATOR_PASSWORD\} .* \+cluster$/m);
});

describe('a standalone Redis with the rendered ACL file', () => {
  let node: RedisNode;
  beforeAll(async () => {
    node = await startRedisNode(group, { mode: 'standalone', pureAcl: true });
  });

  test('the start script writes password hashes, never a password', async () => {
    const written = await run('sh', ['-c', `cat ${node.dir}/run/users.acl`]);
    expect(written).toMatch(/^user app on #[0-9a-f]{64} /m);
    for (const password of Object.values(testAclPasswords('standalone'))) expect(written).not.toContain(password);
  });

  test('the default user cannot log in, with or without a password', async () => {
    expect(await redisCli(node.port, ['ping'], undefined)).toMatch(/NOAUTH/);
    expect(await redisCli(node.port, ['ping'], testAclPasswords('standalone').REDIS_PASSWORD)).toMatch(/WRONGPASS|NOAUTH/);
  });

  test('the app user reads and writes keys and runs scripts, and is refused administration', async () => {
    const app = await loginAs(node.port, 'app');
    await app.set('item:{x}', 'v', { EX: 60 });
    expect(await app.get('item:{x}')).toBe('v');
    expect(await app.eval('return redis.call("GET", KEYS[1])', { keys: ['item:{x}'] })).toBe('v');
    expect(await app.info('memory')).toContain('maxmemory_policy');
    for (const command of [['FLUSHALL'], ['CONFIG', 'SET', 'maxmemory', '1'], ['KEYS', '*'], ['ACL', 'LIST'], ['SAVE'], ['SHUTDOWN'], ['REPLICAOF', 'NO', 'ONE'], ['MONITOR']]) {
      await refused(app.sendCommand(command));
    }
  });

  test('BullMQ adds and runs a job as the app user', async () => {
    const connection = { host: '127.0.0.1', port: node.port, username: 'app', password: testAclPasswords('standalone').REDIS_PASSWORD, maxRetriesPerRequest: null };
    const queue = new Queue('acl', { connection, prefix: '{hscale}' });
    const done: string[] = [];
    const worker = new Worker('acl', async job => { done.push(job.data.n); }, { connection, prefix: '{hscale}' });
    try {
      await queue.add('job', { n: 'one' });
      await waitFor('the job to run', async () => done.length === 1, 20_000);
      expect(done).toEqual(['one']);
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  test('the exporter user reads INFO and the slow log, and no key or configuration', async () => {
    const exporter = await loginAs(node.port, 'exporter');
    expect(await exporter.info()).toContain('redis_version');
    expect(await exporter.sendCommand(['SLOWLOG', 'LEN'])).toEqual(expect.any(Number));
    await refused(exporter.get('item:{x}'));
    // CONFIG GET * answers masterauth: the exporter must not read the replication password.
    await refused(exporter.sendCommand(['CONFIG', 'GET', '*']));
    await refused(exporter.sendCommand(['CLIENT', 'LIST']));
  });

  test('the KEDA user reads the length of queue lists only', async () => {
    const app = await loginAs(node.port, 'app');
    await app.rPush('{hscale}:emails:wait', ['a', 'b']);
    await app.rPush('other:list', ['a']);
    const keda = await loginAs(node.port, 'keda');
    expect(await keda.lLen('{hscale}:emails:wait')).toBe(2);
    await refused(keda.lLen('other:list'));
    await refused(keda.lRange('{hscale}:emails:wait', 0, -1));
    await refused(keda.rPush('{hscale}:emails:wait', 'c'));
    await refused(keda.info());
  });
});

describe('a Sentinel-mode master and replica with the rendered ACL file', () => {
  test('the replica syncs as the replication user, which can do nothing else; the sentinel user manages but reads no key', async () => {
    const env = { SENTINEL_HOSTS: '127.0.0.1:1', MASTER_NAME: 'hscale', INITIAL_MASTER_HOST: '127.0.0.1' };
    const master = await startRedisNode(group, { mode: 'sentinel', pureAcl: true, env });
    const replica = await startRedisNode(group, { mode: 'sentinel', pureAcl: true, env: { ...env, INITIAL_MASTER_PORT: String(master.port) } });
    const exporterPassword = testAclPasswords('sentinel').REDIS_EXPORTER_PASSWORD;
    await waitFor('the replica to sync', async () =>
      infoField(await redisCli(replica.port, ['info', 'replication'], exporterPassword, 'exporter'), 'master_link_status') === 'up', 20_000);
    const replication = await loginAs(master.port, 'replication', 'sentinel');
    await refused(replication.get('any'));
    await refused(replication.info());
    const sentinel = await loginAs(master.port, 'sentinel', 'sentinel');
    expect(await sentinel.sendCommand(['ROLE'])).toEqual(expect.arrayContaining(['master']));
    expect(await sentinel.publish('__sentinel__:hello', 'hi')).toEqual(expect.any(Number));
    await refused(sentinel.get('any'));
    await refused(sentinel.publish('other', 'hi'));
  });
});

describe('Redis Cluster nodes with the rendered ACL file', () => {
  test('the create script forms the cluster as the operator user, which reads no key; the app user uses the cluster', async () => {
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    const env = { REDIS_NODES: ports.map(p => `127.0.0.1:${p}`).join(' ') };
    await Promise.all(ports.map(port => startRedisNode(group, { mode: 'cluster', pureAcl: true, port, env })));
    expect(await runClusterCreate(group, ports, 0)).toContain('cluster created');
    const operator = await loginAs(ports[0], 'operator', 'cluster');
    expect(await operator.sendCommand(['CLUSTER', 'INFO'])).toContain('cluster_state:ok');
    await refused(operator.get('any'));
    const app = createCluster({
      rootNodes: [{ url: `redis://127.0.0.1:${ports[0]}` }],
      defaults: { username: 'app', password: testAclPasswords('cluster').REDIS_PASSWORD, socket: { reconnectStrategy: false } },
    });
    app.on('error', () => undefined);
    await app.connect();
    clients.push(app);
    for (const key of ['a', 'b', 'c', 'd']) await app.set(key, key);
    expect(await app.get('d')).toBe('d');
  });
});

describe('Sentinels from the rendered start script', () => {
  test('refuse a client without their password, and watch the master as their own Redis user', async () => {
    const { masterName, sentinels } = await startSentinelGroup(group, { replicas: 1, sentinels: 3, quorum: 2, downAfterMs: 1000 });
    expect(await redisCli(sentinels[0].port, ['sentinel', 'masters'], undefined)).toMatch(/NOAUTH/);
    expect(await redisCli(sentinels[0].port, ['ping'], 'wrong')).not.toContain('PONG');
    // The Sentinels logged in to the master (as `sentinel`): they learned its replica and each other from it.
    await waitFor('the Sentinels to know the replica and each other', async () => {
      const master = await redisCli(sentinels[0].port, ['sentinel', 'master', masterName], TEST_SENTINEL_PASSWORD);
      return /num-slaves\n1\n/.test(master) && /num-other-sentinels\n2\n/.test(master) && /flags\nmaster\n/.test(master);
    }, 20_000);
  });
});
