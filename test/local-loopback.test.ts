import { connect, createServer } from 'net';
import { parse } from 'yaml';
import { chartNames, ChartObjects, DIST_DIR, K8sObject } from '../local/chart';
import { LocalCluster, PortPool } from '../local/cluster';
import { missingBinaries } from '../local/containers';
import {
  loopbackNginxConf, loopbackPatroniConf, loopbackPgHba, loopbackPostgresConf, loopbackRedisConf, POD_NETWORK_ADDRESS, withPostgresSettings,
} from '../local/loopback';
import { patroniStoreMissing } from '../local/patroni';
import { OutputTail } from '../local/processes';
import { localPodCount } from '../local/stack';
import { loadShapeUnder } from './support/local-stack';
import { patroniChart } from './support/patroni';

test('a process\'s output tail keeps its last characters across chunks, whatever their sizes, and is empty before any', () => {
  const tail = new OutputTail(10);
  expect(tail.text()).toBe('');
  const written: string[] = [];
  const read: Array<[string, string]> = [];
  for (let i = 0; i < 50; i++) {
    const chunk = `${i}:${'x'.repeat(i % 7)};`;
    written.push(chunk);
    tail.add(i % 2 === 0 ? Buffer.from(chunk) : chunk);
    // Read now and then, so that chunks also pile up past twice the limit between two reads.
    if (i % 9 === 0) read.push([tail.text(), written.join('').slice(-10)]);
  }
  read.push([tail.text(), written.join('').slice(-10)]);
  expect(read.map(([got]) => got)).toEqual(read.map(([, wanted]) => wanted));
  tail.add('a much longer chunk than the limit');
  expect(tail.text()).toBe(' the limit');
});

test('postgresql.conf on loopback: address, port and shared_buffers replaced, every other line kept', () => {
  const conf = "listen_addresses = '*'\nport = 5432\nshared_buffers = '1GB'\nwal_level = replica\n";
  expect(loopbackPostgresConf(conf, 12345)).toBe("listen_addresses = '127.0.0.1'\nport = 12345\nshared_buffers = '128MB'\nwal_level = replica\n");
});

test('a setting postgresql.conf lacks is appended', () => {
  expect(withPostgresSettings('port = 1\n', { fsync: 'off' })).toBe('port = 1\nfsync = off\n');
});

test('pg_hba.conf on loopback: every pod network becomes the loopback pod network 127.0.0.2/32, once per kind of line; loopback lines stay', () => {
  const hba = [
    '# TYPE DATABASE USER ADDRESS METHOD',
    'local all all peer',
    'host all +pg_monitor 127.0.0.1/32 scram-sha-256',
    'host replication all 10.0.0.0/8 scram-sha-256',
    'host replication all 192.168.0.0/16 scram-sha-256',
    'host all all 10.0.0.0/8 scram-sha-256',
  ].join('\n');
  expect(loopbackPgHba(hba).split('\n')).toEqual([
    '# TYPE DATABASE USER ADDRESS METHOD',
    'local all all peer',
    'host all +pg_monitor 127.0.0.1/32 scram-sha-256',
    'host replication all 127.0.0.2/32 scram-sha-256',
    'host all all 127.0.0.2/32 scram-sha-256',
  ]);
});

test('redis.conf on loopback: its port and a loopback bind', () => {
  expect(loopbackRedisConf('port 6379\nbind * -::*\ncluster-enabled yes\n', 11000)).toBe('port 11000\nbind 127.0.0.1\ncluster-enabled yes\n');
});

test('nginx.conf on loopback: listens on local ports, the resolve upstream becomes one server per pod, no cluster resolver', () => {
  const conf = [
    '  resolver kube-dns.kube-system.svc.cluster.local valid=10s ipv6=off;',
    '  resolver_timeout 2s;',
    '  access_log /dev/stdout hscale;',
    '  upstream api {',
    '    server hscale-api-pods.hscale.svc.cluster.local:8000 resolve max_fails=3 fail_timeout=10s;',
    '  }',
    '  server {',
    '    listen 8443 ssl;',
    '  }',
  ].join('\n');
  const rewritten = loopbackNginxConf(conf, {
    port: inPod => inPod + 10_000,
    endpoints: (host, port) => (host === 'hscale-api-pods.hscale' && port === 8000 ? ['127.0.0.1:11001', '127.0.0.1:11002'] : []),
    logFile: '/tmp/pod/access.log',
  });
  expect(rewritten.split('\n')).toEqual([
    '  access_log /tmp/pod/access.log hscale;',
    '  upstream api {',
    '    server 127.0.0.1:11001 max_fails=3 fail_timeout=10s;',
    '    server 127.0.0.1:11002 max_fails=3 fail_timeout=10s;',
    '  }',
    '  server {',
    '    listen 127.0.0.1:18443 ssl;',
    '  }',
  ]);
});

test('nginx.conf for an nginx before 1.25.1: a server\'s `http2 on;` becomes `http2` on each of its listens, other servers untouched', () => {
  const conf = [
    '  server {',
    '    listen 8080;',
    '    location / { return 301 https://$host$request_uri; }',
    '  }',
    '  server {',
    '    listen 8443 ssl;',
    '    http2 on;',
    '    location /api/ { proxy_pass http://api; }',
    '  }',
  ].join('\n');
  const loopback = { port: (inPod: number) => inPod + 10_000, endpoints: () => [], logFile: '/tmp/pod/access.log' };
  expect(loopbackNginxConf(conf, { ...loopback, http2Directive: false }).split('\n')).toEqual([
    '  server {',
    '    listen 127.0.0.1:18080;',
    '    location / { return 301 https://$host$request_uri; }',
    '  }',
    '  server {',
    '    listen 127.0.0.1:18443 ssl http2;',
    '    location /api/ { proxy_pass http://api; }',
    '  }',
  ]);
  expect(loopbackNginxConf(conf, { ...loopback, http2Directive: true })).toContain('    http2 on;\n');
});

test('patroni.yml on loopback: pg_hba\'s pod networks, this machine\'s bin_dir and shared_buffers; everything else the chart\'s', () => {
  const yml = [
    '# Rendered by hscale renderPatroniConf.',
    'scope: db',
    'bootstrap:',
    '  dcs:',
    '    ttl: 5',
    'postgresql:',
    '  data_dir: /pod/data/pgdata',
    '  bin_dir: /usr/lib/postgresql/15/bin',
    '  parameters:',
    '    shared_buffers: 1GB',
    '    work_mem: 4MB',
    '  pg_hba:',
    '    - local all all peer',
    '    - host all +pg_monitor 127.0.0.1/32 scram-sha-256',
    '    - host replication all 10.0.0.0/8 scram-sha-256',
    '    - host all all 10.0.0.0/8 scram-sha-256',
    '',
  ].join('\n');
  const local = loopbackPatroniConf(yml, '/opt/pg/bin');
  expect(local.startsWith('# Rendered by hscale renderPatroniConf.\n')).toBe(true);
  expect(parse(local)).toEqual({
    scope: 'db',
    bootstrap: { dcs: { ttl: 5 } },
    postgresql: {
      data_dir: '/pod/data/pgdata',
      bin_dir: '/opt/pg/bin',
      parameters: { shared_buffers: '128MB', work_mem: '4MB' },
      pg_hba: [
        'local all all peer',
        'host all +pg_monitor 127.0.0.1/32 scram-sha-256',
        `host replication all ${POD_NETWORK_ADDRESS}/32 scram-sha-256`,
        `host all all ${POD_NETWORK_ADDRESS}/32 scram-sha-256`,
      ],
    },
  });
});

test('the binaries missing from PATH are named with the Debian package to install', () => {
  expect(missingBinaries([
    { binary: 'sh', aptPackage: 'dash' },
    { binary: 'hscale-no-such-binary', aptPackage: 'hscale-no-such-package' },
    { binary: 'hscale-no-such-binary', aptPackage: 'hscale-no-such-package' },
  ])).toEqual([{ binary: 'hscale-no-such-binary', aptPackage: 'hscale-no-such-package' }]);
});

test('throws error, when the chart is not in dist/', () => {
  expect(chartNames()).toContain('hscale');
  expect(() => ChartObjects.load('nope')).toThrow(`no chart 'nope' in ${DIST_DIR}: the charts there are ${chartNames().join(', ')} (run npm run synth)`);
});

test('the pods a chart starts with: the HPA minimum for the API, spec.replicas for StatefulSets, the KEDA minimum for workers', () => {
  const chart = ChartObjects.load('hscale');
  // The cluster-create Job's name ends with a hash of its spec.
  const counts = Object.fromEntries(chart.workloads().map(w => [w.name.replace(/^(hscale-cache-create)-[0-9a-f]{10}$/, '$1'), w.minReplicas]));
  expect(counts).toEqual({
    'hscale-db': 3, 'hscale-cache': 6, 'hscale-cache-create': 1,
    'hscale-api': 3, 'hscale-lb': 2, 'hscale-jobs': 1, 'hscale-queue': 2, 'hscale-queue-sentinel': 3,
  });
});

test('the failure tests\' load stays under each chart\'s API rate limit: TutorMax\'s 100 a minute per client needs 30 clients at 80 a minute', () => {
  const shapes = Object.fromEntries(chartNames().map(name => [name, loadShapeUnder(ChartObjects.load(name))]));
  expect(shapes).toEqual({
    'bet-intel': { loops: 4, pauseMs: 80, clientPerLoop: false },
    'cms': { loops: 4, pauseMs: 80, clientPerLoop: false },
    'fastnext': { loops: 4, pauseMs: 80, clientPerLoop: false },
    'hscale': { loops: 4, pauseMs: 80, clientPerLoop: false },
    'tutormax': { loops: 30, pauseMs: 750, clientPerLoop: true },
  });
});

test('the pods the local stack starts: at most apiInstances of the HPA-scaled API, one nginx, none of a StatefulSet of 0 replicas', () => {
  const count = (name: string, apiInstances?: number) => {
    const chart = ChartObjects.load(name);
    return Object.fromEntries(chart.workloads().map(w => [w.name, localPodCount(chart, w, apiInstances)]));
  };
  expect(count('cms', 2)).toEqual({ 'cms-db-primary': 1, 'cms-db-replica': 0, 'cms-cache': 1, 'cms-api': 2, 'cms-lb': 1 });
  expect(count('tutormax')).toEqual({
    'tutormax-db': 2, 'tutormax-cache': 2, 'tutormax-cache-sentinel': 3,
    'tutormax-api': 3, 'tutormax-lb': 1, 'tutormax-workers': 2, 'tutormax-queue': 2, 'tutormax-queue-sentinel': 3,
  });
});

test('on loopback the Sentinels and the second Redis get the first Redis\'s own port as INITIAL_MASTER_PORT, never 6379', async () => {
  // GIVEN the tutormax chart's pods on loopback
  const chart = ChartObjects.load('tutormax');
  const cluster = new LocalCluster(chart, '/nonexistent', await PortPool.create(40));
  for (const workload of chart.workloads()) cluster.addPods(workload, localPodCount(chart, workload));
  const pod = (name: string) => cluster.pods.find(p => p.name === name)!;
  const env = (name: string) => pod(name).env(pod(name).workload.containers[0]);
  try {
    // THEN both find the first one's local port, and each keeps its own
    const masterPort = String(pod('tutormax-cache-0').namedPort('redis'));
    expect(masterPort).not.toBe('6379');
    expect(env('tutormax-cache-sentinel-0')).toEqual(expect.objectContaining({
      INITIAL_MASTER_HOST: '127.0.0.1', INITIAL_MASTER_PORT: masterPort, SENTINEL_PORT: String(pod('tutormax-cache-sentinel-0').namedPort('sentinel')),
    }));
    expect(env('tutormax-cache-1')).toEqual(expect.objectContaining({
      INITIAL_MASTER_PORT: masterPort, REDIS_PORT: String(pod('tutormax-cache-1').namedPort('redis')), ANNOUNCE_HOST: '127.0.0.1',
    }));
  } finally {
    await Promise.all([...cluster.forwarders.values()].map(f => f.close()));
  }
});

test('on loopback peers reach PostgreSQL through forwarders from the pod network, and its exporter reaches it from 127.0.0.1', async () => {
  // GIVEN the hscale chart's pods on loopback
  const chart = ChartObjects.load('hscale');
  const cluster = new LocalCluster(chart, '/nonexistent', await PortPool.create(60));
  for (const workload of chart.workloads()) cluster.addPods(workload, localPodCount(chart, workload));
  const pod = (name: string) => cluster.pods.find(p => p.name === name)!;
  const replica = pod('hscale-db-1');
  const ownPort = replica.namedPort('postgres')!;
  const server = createServer(socket => socket.end(socket.remoteAddress ?? ''));
  await new Promise<void>(resolve => server.listen(ownPort, '127.0.0.1', resolve));
  try {
    // THEN the API's replica list names the forwarder, never the replica's own port
    const api = pod('hscale-api-0');
    const replicas = api.env(api.workload.containers[0]).POSTGRES_READ_REPLICAS.split(',');
    expect(replicas).toContain(replica.peerAddress('postgres'));
    expect(replicas).not.toContain(`127.0.0.1:${ownPort}`);
    // AND a connection through it arrives from the pod network
    const [, forwarderPort] = replica.peerAddress('postgres').split(':');
    await Promise.all([...cluster.forwarders.values()].map(f => f.listening));
    const from = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(forwarderPort), '127.0.0.1');
      let text = '';
      socket.on('data', chunk => { text += chunk; }).on('end', () => resolve(text)).on('error', reject);
    });
    expect(from).toBe(POD_NETWORK_ADDRESS);
    // AND the exporter beside it connects to its own port on 127.0.0.1, which only the chart's loopback line admits
    const exporter = replica.workload.containers.find(c => c.name === 'exporter')!;
    expect(replica.env(exporter).DATA_SOURCE_URI).toBe(`127.0.0.1:${ownPort}/postgres?sslmode=disable`);
  } finally {
    server.close();
    await Promise.all([...cluster.forwarders.values()].map(f => f.close()));
  }
});

describe('a chart whose PgReplicaSet runs Patroni', () => {
  const chart = () => new ChartObjects('test', patroniChart({ replicas: 2 }).objects as K8sObject[]);

  test('throws error, when the control plane that is its store is not built', () => {
    expect(patroniStoreMissing(chart(), '/nonexistent')).toBe('the chart\'s PgReplicaSet runs Patroni, whose store on this machine is the Kubernetes API of the test control plane; '
      + 'its binaries are missing (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok in /nonexistent): build them with\n  bash tools/control-plane/build.sh');
    expect(patroniStoreMissing(ChartObjects.load('cms'), '/nonexistent')).toBeUndefined();
  });

  test('-rw forwards to the member labelled role=master and -ro to those labelled replica, as their labels change; with none it refuses', async () => {
    // GIVEN the members on loopback, none labelled yet
    const objects = chart();
    const cluster = new LocalCluster(objects, '/nonexistent', await PortPool.create(20));
    const [members] = objects.workloads().map(w => cluster.addPods(w, localPodCount(objects, w)));
    const api = { DATABASE_URL: 'test-db-rw.patroni-test.svc.cluster.local:5432', READS: 'test-db-ro.patroni-test.svc.cluster.local:5432' };
    const [rwPort, roPort] = Object.values(api).map(host => Number(members[0].rewrite(host).split(':')[1]));
    const forwarder = (port: number) => [...cluster.forwarders.values()].find(f => f.port === port)!;
    try {
      await Promise.all([...cluster.forwarders.values()].map(f => f.listening));
      expect([forwarder(rwPort).targetPods, forwarder(roPort).targetPods]).toEqual([[], []]);
      const refused = await new Promise<boolean>(resolve => {
        const socket = connect(rwPort, '127.0.0.1');
        socket.on('data', () => resolve(false)).on('error', () => resolve(true)).on('close', () => resolve(true));
      });
      expect(refused).toBe(true);
      // WHEN Patroni's roles are known, and later a replica is promoted
      members.forEach((m, i) => cluster.setRuntimeLabels(m.name, { role: i === 0 ? 'master' : 'replica' }));
      expect([forwarder(rwPort).targetPods, forwarder(roPort).targetPods]).toEqual([['test-db-0'], ['test-db-1', 'test-db-2']]);
      cluster.setRuntimeLabels('test-db-0', {});
      cluster.setRuntimeLabels('test-db-1', { role: 'master' });
      // THEN the forwarders follow, as kube-proxy follows the Endpoints
      expect([forwarder(rwPort).targetPods, forwarder(roPort).targetPods]).toEqual([['test-db-1'], ['test-db-2']]);
    } finally {
      await Promise.all([...cluster.forwarders.values()].map(f => f.close()));
    }
  });
});
