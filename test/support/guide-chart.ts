import { isDeepStrictEqual } from 'util';
import { Chart, Testing } from 'cdk8s';
import { parse } from 'yaml';
import { podSecurityLabels } from '../../lib/cluster/pod-security-namespace';
import { crdValidators } from './crd-validators';
import { findObject } from './find';
import { findViolations, Manifest } from './manifest-checks';

/** A synthesized chart and lookups into it; a lookup that finds nothing throws, naming what it looked for. */
export interface SynthesizedChart {
  readonly manifests: Manifest[];
  /** The object of this kind and name. */
  find(kind: string, name: string): Manifest;
  /** The env of the first container of a workload, by name (a `valueFrom` entry maps to its source). */
  env(kind: string, name: string | RegExp): Record<string, unknown>;
  /** A file of a ConfigMap. */
  configFile(configMap: string, file: string): string;
  /** The queries of each panel of a dashboard (`<observability>-<group>` ConfigMap, file `<group>.json`), by panel title. */
  panels(observability: string, group: string): Record<string, string[]>;
  /** The PostgreSQL parameters of a patroni engine's patroni.yml (ConfigMap `<db>-config`): the cluster-wide ones of the store, then the member's. */
  patroniParameters(configMap: string): Record<string, string>;
}

export function synthChart(chart: Chart): SynthesizedChart {
  const manifests = Testing.synth(chart);
  const find = (kind: string, name: string | RegExp) => findObject(manifests, kind, name);
  const env = (kind: string, name: string | RegExp) => Object.fromEntries(
    (find(kind, name).spec.template.spec.containers[0].env as Manifest[]).map(e => [e.name, e.value ?? e.valueFrom]));
  const configFile = (configMap: string, file: string) => {
    const text = find('ConfigMap', configMap).data[file];
    if (typeof text !== 'string') throw new Error(`ConfigMap ${configMap} has no file ${file}`);
    return text;
  };
  const panels = (observability: string, group: string) => Object.fromEntries(
    (JSON.parse(configFile(`${observability}-${group}`, `${group}.json`)).panels as Manifest[])
      .map(panel => [panel.title, (panel.targets as Manifest[]).map(t => t.expr as string)]));
  const patroniParameters = (configMap: string) => {
    const conf = parse(configFile(configMap, 'patroni.yml'));
    return { ...conf.bootstrap.dcs.postgresql.parameters, ...conf.postgresql.parameters };
  };
  return { manifests, find, env, configFile, panels, patroniParameters };
}

/**
 * What keeps a chart from being applied as is on a fresh cluster with Pod Security Admission:
 * the manifest checks' violations, a first object that is not the chart's restricted Namespace,
 * and objects outside that namespace.
 */
export async function namespacedChartProblems(manifests: Manifest[], namespace: string): Promise<string[]> {
  const [first, ...rest] = manifests;
  const problems = await findViolations(manifests, { validators: crdValidators() });
  const restricted = { name: namespace, labels: podSecurityLabels('restricted', 'latest') };
  if (first?.kind !== 'Namespace' || !isDeepStrictEqual(first.metadata, restricted)) {
    problems.push(`the first object is ${first?.kind}/${first?.metadata?.name}, not the Namespace ${namespace} labelled restricted`);
  }
  rest.filter(m => m.metadata.namespace !== namespace).forEach(m => problems.push(`${m.kind}/${m.metadata.name} is not in ${namespace}`));
  return problems;
}
