import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { PodPeer } from '../core/endpoints';
import { CONFIG_HASH_ANNOTATION } from '../core/names';
import { exporterSidecar, restrictedPodSecurityContext, statefulSetPlacement } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { tlsCaEnv, tlsCaVolume, tlsFiles, tlsVolume } from '../core/tls';
import { REDIS_USERS } from './redis-acl';
import { RedisScriptTls } from './redis-conf';
import { RedisClusterSettings } from './settings';

// The pieces every Redis mode builds the same way: ports, password wiring, object metadata,
// pod basics, Services, PDBs and NetworkPolicies.

export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
export const EXPORTER_PORT = 9121;
export const REDIS_UID = 999;

/** Where the ConfigMap (configs and scripts) is mounted in every container. */
export const CONFIG_MOUNT: k8s.VolumeMount = { name: 'config', mountPath: '/etc/redis', readOnly: true };

/** The ConfigMap as a volume, its scripts executable. */
export function configVolume(configMapName: string): k8s.Volume {
  return { name: 'config', configMap: { name: configMapName, defaultMode: 0o555 } };
}

/** Where the TLS Secret is mounted: all of it in the Redis and Sentinel containers, its CA alone in the exporter and the Job. */
export const TLS_DIR = '/etc/redis-tls';

/** The scripts' TLS (their redis-cli's CA, the reload loop's files), when the store has TLS. */
export function scriptTls(settings: RedisClusterSettings): RedisScriptTls | undefined {
  // As often as nginx checks its own: the kubelet takes up to a minute or so to show a renewed Secret anyway.
  return settings.tls && { files: tlsFiles(TLS_DIR), checkSeconds: 60 };
}

/** With TLS, the Secret's volume and mount: `caOnly` for a container that is only ever a client. */
export function tlsMounts(settings: RedisClusterSettings, caOnly: boolean): { volumes: k8s.Volume[]; mounts: k8s.VolumeMount[] } {
  if (!settings.tls) return { volumes: [], mounts: [] };
  const { volume, mount } = caOnly ? tlsCaVolume(settings.tls, TLS_DIR) : tlsVolume(settings.tls, TLS_DIR);
  return { volumes: [volume], mounts: [mount] };
}

/** With TLS, `enableTLS` for a KEDA trigger's metadata (the CA comes with the TriggerAuthentication). */
export function kedaTlsMetadata(settings: RedisClusterSettings): Record<string, string> {
  return settings.tls ? { enableTLS: 'true' } : {};
}

/** The Secret key of the Sentinels' own password (`requirepass`), which clients and Sentinels send them. */
export const SENTINEL_PASSWORD_KEY = 'sentinel-password';

/** `REDIS_PASSWORD` from the Secret: the app user's password, as clients read it. */
export function redisPasswordEnv(secret: RedisClusterSettings['passwordSecret']): k8s.EnvVar {
  return secretEnv(secret.secretName, 'REDIS_PASSWORD', secret.key);
}

/** An env var from a key of the password Secret: every password is read this way only. */
export function secretEnv(secretName: string, name: string, key: string): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** The password env of the ACL users named (all when none is), as a container that writes or uses users.acl needs them. */
export function aclPasswordEnv(settings: RedisClusterSettings, ...users: string[]): k8s.EnvVar[] {
  return settings.aclUsers.filter(u => users.length === 0 || users.includes(u.name))
    .map(u => secretEnv(settings.passwordSecret.secretName, u.passwordEnv, u.secretKey));
}

/**
 * `REDIS_USERNAME` and `REDIS_PASSWORD`: how a client (the API, a worker) logs in, as the app user;
 * with TLS also `REDIS_TLS_CA`, the CA (PEM) it verifies every node and Sentinel against.
 */
export function clientAuthEnv(settings: RedisClusterSettings): k8s.EnvVar[] {
  return [
    { name: 'REDIS_USERNAME', value: REDIS_USERS.app }, redisPasswordEnv(settings.passwordSecret),
    ...(settings.tls ? [tlsCaEnv('REDIS_TLS_CA', settings.tls)] : []),
  ];
}

/** `SENTINEL_PASSWORD`: what Sentinels require and what every Sentinel client sends. */
export function sentinelPasswordEnv(settings: RedisClusterSettings, name = 'SENTINEL_PASSWORD'): k8s.EnvVar {
  return secretEnv(settings.passwordSecret.secretName, name, SENTINEL_PASSWORD_KEY);
}

/** The stable DNS name of pod `index` of a StatefulSet behind its headless Service. */
export function podHost(settings: RedisClusterSettings, statefulSet: string, headlessService: string, index: number): string {
  return `${statefulSet}-${index}.${headlessService}.${settings.dnsSuffix}`;
}

/** `host:port` of each of `count` pods of a StatefulSet named like its headless Service. */
export function podAddresses(settings: RedisClusterSettings, name: string, headlessService: string, count: number, port: number): string[] {
  return Array.from({ length: count }, (_, i) => `${podHost(settings, name, headlessService, i)}:${port}`);
}

/** The pod's own name and the DNS name it announces to its peers. */
export function announceEnv(settings: RedisClusterSettings, headlessService: string): k8s.EnvVar[] {
  return [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'ANNOUNCE_HOST', value: `$(POD_NAME).${headlessService}.${settings.dnsSuffix}` },
  ];
}

/** Metadata of an object in the construct's namespace. */
export function objectMeta(settings: RedisClusterSettings, name: string, labels: Record<string, string>): k8s.ObjectMeta {
  return { name, namespace: settings.namespace, labels };
}

/** What the pods of every Redis and Sentinel StatefulSet share: restricted, no token, spread over zones and nodes. */
export function redisPodBasics(settings: RedisClusterSettings, selector: Record<string, string>): Omit<k8s.PodSpec, 'containers'> {
  return {
    automountServiceAccountToken: false,
    securityContext: restrictedPodSecurityContext(REDIS_UID, REDIS_UID),
    ...statefulSetPlacement(selector, settings.placement),
  };
}

/** The redis_exporter sidecar of a Redis pod, logging in as the exporter user, which reads INFO and no key. */
export function redisExporter(settings: RedisClusterSettings): k8s.Container {
  const exporter = settings.aclUsers.find(u => u.name === REDIS_USERS.exporter)!;
  // With TLS it verifies the server, whose certificate names localhost, against the CA alone.
  const address = settings.tls ? `rediss://localhost:${REDIS_PORT}` : `redis://127.0.0.1:${REDIS_PORT}`;
  return exporterSidecar({
    image: settings.exporterImage,
    port: EXPORTER_PORT,
    healthPath: '/health',
    env: [
      { name: 'REDIS_ADDR', value: address },
      { name: 'REDIS_USER', value: exporter.name },
      secretEnv(settings.passwordSecret.secretName, 'REDIS_PASSWORD', exporter.secretKey),
      ...(settings.tls ? [{ name: 'REDIS_EXPORTER_TLS_CA_CERT_FILE', value: tlsFiles(TLS_DIR).caFile }] : []),
    ],
    ...(settings.tls ? { volumeMounts: tlsMounts(settings, true).mounts } : {}),
  });
}

/** A Service port forwarding to the container port of the same name. */
export function namedServicePort(name: string, port: number): k8s.ServicePort {
  return { name, port, targetPort: k8s.IntOrString.fromString(name), protocol: 'TCP' };
}

/** A headless Service publishing pods before they are ready, so peers can find each other while they form. */
export function createHeadlessService(
  scope: Construct, id: string, metadata: k8s.ObjectMeta, selector: Record<string, string>, ports: k8s.ServicePort[],
): k8s.KubeService {
  return new k8s.KubeService(scope, id, {
    metadata,
    spec: { clusterIp: 'None', publishNotReadyAddresses: true, selector, ports },
  });
}

/** A NetworkPolicy isolating a group of pods that talk to each other on `peerPorts` (none: a lone pod), both ways. */
export function createPeerNetworkPolicy(
  scope: Construct, id: string, group: { podSelector: Record<string, string>; labels: Record<string, string>; role?: string }, peerPorts: number[],
): PodNetworkPolicy {
  const policy = new PodNetworkPolicy(scope, id, group);
  if (peerPorts.length > 0) {
    const peers: PodPeer = { podSelector: group.podSelector };
    policy.allowIngressFrom(peers, peerPorts);
    policy.allowEgressTo({ peer: peers, ports: peerPorts });
  }
  return policy;
}

/** The env every start script reads after its own: the config directory, a writable directory and the passwords it writes. */
export function startScriptEnv(runDir: string, passwords: k8s.EnvVar[]): k8s.EnvVar[] {
  return [
    { name: 'CONF_DIR', value: CONFIG_MOUNT.mountPath },
    { name: 'RUN_DIR', value: runDir },
    ...passwords,
  ];
}

/** Pod template metadata whose config hash rolls the pods when the ConfigMap changes. */
export function podTemplateMetadata(labels: Record<string, string>, configHash: string): k8s.ObjectMeta {
  return { labels, annotations: { [CONFIG_HASH_ANNOTATION]: configHash } };
}
