import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { PodPeer } from '../core/endpoints';
import { CONFIG_HASH_ANNOTATION } from '../core/names';
import { exporterSidecar, nodeAntiAffinity, restrictedPodSecurityContext } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
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

/** `REDIS_PASSWORD` from the Secret: every node, Sentinel, job and client reads the password this way only. */
export function redisPasswordEnv(secret: RedisClusterSettings['passwordSecret']): k8s.EnvVar {
  return { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: secret.name, key: secret.key } } };
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

/** What the pods of every Redis and Sentinel StatefulSet share: restricted, no token, spread over nodes. */
export function redisPodBasics(settings: RedisClusterSettings, selector: Record<string, string>): Omit<k8s.PodSpec, 'containers'> {
  return {
    automountServiceAccountToken: false,
    securityContext: restrictedPodSecurityContext(REDIS_UID, REDIS_UID),
    affinity: nodeAntiAffinity(selector, settings.requireAntiAffinity),
  };
}

/** The redis_exporter sidecar of a Redis pod, logging in with the password from the Secret. */
export function redisExporter(settings: RedisClusterSettings): k8s.Container {
  return exporterSidecar({
    image: settings.exporterImage,
    port: EXPORTER_PORT,
    healthPath: '/health',
    env: [{ name: 'REDIS_ADDR', value: `redis://127.0.0.1:${REDIS_PORT}` }, redisPasswordEnv(settings.passwordSecret)],
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

/** The env every start script reads after its own: the config directory, a writable directory and the password. */
export function startScriptEnv(settings: RedisClusterSettings, runDir: string): k8s.EnvVar[] {
  return [
    { name: 'CONF_DIR', value: CONFIG_MOUNT.mountPath },
    { name: 'RUN_DIR', value: runDir },
    redisPasswordEnv(settings.passwordSecret),
  ];
}

/** Pod template metadata whose config hash rolls the pods when the ConfigMap changes. */
export function podTemplateMetadata(labels: Record<string, string>, configHash: string): k8s.ObjectMeta {
  return { labels, annotations: { [CONFIG_HASH_ANNOTATION]: configHash } };
}
