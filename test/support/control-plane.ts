import { execFileSync } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { KubeObject } from '../../lib/cluster/requirements';
import type { ControlPlane } from '../../scripts/control-plane/index';

/** The shell lines of one chart's steps in the Apply section of docs/apply.md, in order. */
export function applyPageCommands(page: string, file: string): string[] {
  return applyStepCommands(page.split('<!-- apply:begin')[1]?.split('<!-- apply:end')[0] ?? '', file);
}

/** The shell lines of one chart's steps in Apply steps as `renderApplySteps` writes them, in order. */
export function applyStepCommands(section: string, file: string): string[] {
  const start = section.indexOf(`#### \`${file}\``);
  if (start === -1) throw new Error(`the Apply steps have no steps for ${file}`);
  const rest = section.slice(start + 1);
  const body = rest.slice(0, rest.search(/\n#### |$/));
  return [...body.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap(m => m[1].split('\n').map(l => l.trim()).filter(Boolean));
}

/**
 * Runs a line of docs/apply.md on the control plane: `helm install` of an operator is replaced by its CRDs
 * (installed at start), `<placeholder>` values by random ones, `<certificate.pem>` and
 * `<private-key.pem>` by a self-signed pair. A comment (an add-on the reader's cluster provides,
 * such as a LoadBalancer provider or a NetworkPolicy CNI) is passed over, as a shell would.
 * Returns what it ran, for the record.
 */
export async function runApplyLine(plane: ControlPlane, line: string, workDir: string, repoRoot: string): Promise<string> {
  if (line.startsWith('#')) return `a comment: ${line}`;
  if (line.startsWith('helm ')) return `skipped (the operator's CRDs are installed instead): ${line}`;
  if (!line.startsWith('kubectl ')) throw new Error(`an Apply step the test cannot run: ${line}`);
  const args = line.split(/\s+/).slice(1).map(arg => arg
    .replace('<certificate.pem>', tlsPair(workDir).cert)
    .replace('<private-key.pem>', tlsPair(workDir).key)
    .replace(/<[a-z-]+>/g, () => `v${Math.random().toString(36).slice(2)}`)
    .replace(/^dist\//, `${repoRoot}/dist/`));
  await plane.kubectlOk(args);
  return line;
}

function tlsPair(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  try {
    readFileSync(cert);
  } catch {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=example.test'], { stdio: 'ignore' });
  }
  return { cert, key };
}

/** Replicas of a PDB's pods that may be disrupted when all `expected` are healthy, as the disruption controller computes it. */
export function designedDisruptionsAllowed(pdb: KubeObject, expected: number): number {
  const value = (v: number | string, roundUp: boolean) => typeof v === 'number' ? v
    : (roundUp ? Math.ceil : Math.floor)(Number(v.replace('%', '')) * expected / 100);
  if (pdb.spec.maxUnavailable !== undefined) return Math.min(expected, value(pdb.spec.maxUnavailable, true));
  if (pdb.spec.minAvailable !== undefined) return Math.max(0, expected - value(pdb.spec.minAvailable, true));
  return 0;
}

/** `kubectl get ... -o json` items. */
export async function getItems(plane: ControlPlane, args: string[]): Promise<KubeObject[]> {
  return JSON.parse(await plane.kubectlOk(['get', ...args, '-o', 'json'])).items as KubeObject[];
}

/** True when every key of `expected` (recursively) has the same value in `actual`: what the server kept of what we sent. */
export function keeps(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => keeps(actual[i], e));
  if (expected && typeof expected === 'object') {
    return !!actual && typeof actual === 'object' && Object.entries(expected).every(([k, v]) => keeps((actual as Record<string, unknown>)[k], v));
  }
  return actual === expected;
}

/**
 * A kubectl on PATH that acts as `system:serviceaccount:<namespace>:<name>` (impersonation by the
 * admin), so a GeneratedSecrets script run on this machine has exactly its ServiceAccount's rights.
 */
export function impersonatingKubectl(plane: ControlPlane, dir: string, namespace: string, serviceAccount: string): string {
  const wrapper = join(dir, 'kubectl');
  writeFileSync(wrapper, `#!/bin/sh\nexec '${join(plane.binDir, 'kubectl')}' --kubeconfig '${plane.kubeconfig}' --as 'system:serviceaccount:${namespace}:${serviceAccount}' "$@"\n`, { mode: 0o755 });
  return dir;
}
