/**
 * `npm run control-plane`: builds (once) and starts a real Kubernetes control plane on loopback
 * in the foreground, writes .control-plane/kubeconfig and prints how to use it. Ctrl-C or
 * SIGTERM stops every process it started (exit 0); a process of the control plane that dies stops
 * the rest (exit 1). `HSCALE_CONTROL_PLANE_DIR` moves the state directory (the test runs one beside
 * a developer's).
 */
import { join, relative } from 'path';
import { REPO_ROOT, startControlPlane, ZONES } from './control-plane/index';

async function main(): Promise<void> {
  const dir = process.env.HSCALE_CONTROL_PLANE_DIR ?? join(REPO_ROOT, '.control-plane');
  const started = Date.now();
  const plane = await startControlPlane({ dir, log: line => console.error(`control-plane: ${line}`) });
  let stopping = false;
  const stop = async (why: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    console.error(`control-plane: ${why}, stopping`);
    await plane.stop();
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  const rel = (p: string) => relative(process.cwd(), p) || '.';
  const kubectl = rel(join(plane.binDir, 'kubectl'));
  process.stdout.write(`
A Kubernetes control plane is up (ready in ${Math.round((Date.now() - started) / 1000)} s): ${plane.server}
${plane.nodes.length} kwok nodes over ${ZONES.join(', ')}: pods are scheduled and become Ready, no container runs.
Pod Security admission, RBAC and the operators' CRDs (prometheus-operator, KEDA, CloudNativePG, Gateway API) are in.

  export KUBECONFIG=${plane.kubeconfig}
  alias kubectl=${kubectl}        # kubectl of the same Kubernetes release
  kubectl get nodes -L topology.kubernetes.io/zone
  kubectl apply --server-side -f dist/hscale.k8s.yaml
  kubectl get pods -A -o wide

Logs: ${rel(join(plane.dir, 'logs'))}/. Ctrl-C stops it.
`);
  // A child that dies stops the whole control plane: a half-running one would mislead.
  const watch = setInterval(() => {
    if (!stopping && plane.exited().length) void stop(`${plane.exited().map(e => e.name).join(', ')} exited`, 1);
  }, 1_000);
  watch.unref();
  await new Promise(() => undefined);
}

main().catch(error => {
  console.error(`control-plane: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
