/**
 * How many pods the HPA of each guide chart would run for the guide's stated load, computed from
 * the capacity measured per core (bench/scenarios/capacity.ts) and the autoscaling written in
 * the synthesized charts (dist/*.k8s.yaml): nothing in the table is typed in but the guides' loads,
 * each quoted with where it is stated.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';

/** The API Deployment's autoscaling in one synthesized chart. */
export interface ApiAutoscaling {
  /** The chart's file in dist/ without `.k8s.yaml`. */
  readonly chart: string;
  readonly hpa: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** The CPU metric's averageUtilization, as a fraction of the request. */
  readonly cpuTarget: number;
  /** Cores. */
  readonly cpuRequest: number;
  readonly cpuLimit: number;
  /** A Pods metric's averageValue (bet-intel: requests/s per pod), when the HPA has one. */
  readonly perPodTarget?: number;
}

/** What one path measured on one core: the highest rate with p95 under the bound, and the CPU per request there. */
export interface PathCapacity {
  readonly label: string;
  readonly rpsPerCore: number;
  /**
   * CPU per request beyond what the process uses idle, at the rates measured ([rate, us], passing
   * runs): it falls as the rate rises (more requests share each wake-up of the event loop), so a pod
   * held at a low CPU target pays more per request than one at the per-core rate.
   */
  readonly cpuUsByRate: Array<[number, number]>;
  /** Cores the process uses with no request (health checks of the replicas, timers). */
  readonly idleCores: number;
}

/** A load a guide states for its system. */
export interface GuideLoad {
  readonly guide: string;
  /** The chart in dist/ that reproduces the guide. */
  readonly chart: string;
  readonly rps: number;
  /** The guide's words and where they are. */
  readonly stated: string;
}

/**
 * The guides' stated loads (shared/seeds/). TutorMax (002) and the CMS (003) state none; the table
 * of what each chart carries covers them.
 */
export const GUIDE_LOADS: GuideLoad[] = [
  { guide: 'FastNext, target', chart: 'fastnext', rps: 50_000, stated: '"10,000+ concurrent users and 50,000+ requests per second" (000 line 5, 001 line 5)' },
  { guide: 'FastNext, today', chart: 'fastnext', rps: 5_000, stated: '"Concurrent Users 500", "Requests/Second 5,000" (000 lines 11-12)' },
  { guide: 'bet-intel', chart: 'bet-intel', rps: 1_000, stated: '"from hundreds to thousands of requests per second" (004 line 545): the least of thousands' },
];

/** A Kubernetes CPU quantity ("250m", "1", 0.5) in cores. */
export function cores(quantity: string | number): number {
  const text = String(quantity);
  return text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text);
}

interface Manifest {
  readonly kind: string;
  readonly metadata: { readonly name: string };
}

interface Hpa extends Manifest {
  readonly spec: {
    readonly scaleTargetRef: { readonly kind: string; readonly name: string };
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly metrics: Array<{ type: string; resource?: { name: string; target: { averageUtilization: number } }; pods?: { target: { averageValue: string } } }>;
  };
}

interface Workload extends Manifest {
  readonly spec: { readonly template: { readonly spec: { readonly containers: Array<{ image: string; resources: { requests: { cpu: string }; limits: { cpu: string } } }> } } };
}

/** The API's autoscaling from one HPA, or none when it scales no reference-service container on CPU. */
function apiAutoscaling(chart: string, hpa: Hpa, objects: Manifest[]): ApiAutoscaling[] {
  const target = objects.find(o => o.kind === hpa.spec.scaleTargetRef.kind && o.metadata.name === hpa.spec.scaleTargetRef.name) as Workload | undefined;
  const container = target?.spec.template.spec.containers.find(c => c.image.includes('reference-service'));
  const cpu = hpa.spec.metrics.find(m => m.type === 'Resource' && m.resource!.name === 'cpu');
  if (!container || !cpu) return [];
  const perPod = hpa.spec.metrics.find(m => m.type === 'Pods');
  return [{
    chart, hpa: hpa.metadata.name, minReplicas: hpa.spec.minReplicas, maxReplicas: hpa.spec.maxReplicas,
    cpuTarget: cpu.resource!.target.averageUtilization / 100, cpuRequest: cores(container.resources.requests.cpu), cpuLimit: cores(container.resources.limits.cpu),
    ...(perPod ? { perPodTarget: Number(perPod.pods!.target.averageValue) } : {}),
  }];
}

/**
 * The HPA of each chart's API (the Deployment whose container runs the reference service's image),
 * read from the synthesized YAML in `distDir`.
 */
export function readApiAutoscaling(distDir: string): ApiAutoscaling[] {
  return readdirSync(distDir).filter(f => f.endsWith('.k8s.yaml')).sort().flatMap(file => {
    const objects = parseAllDocuments(readFileSync(join(distDir, file), 'utf8')).map(d => d.toJSON() as Manifest).filter(Boolean);
    const chart = file.replace(/\.k8s\.yaml$/, '');
    return objects.filter(o => o.kind === 'HorizontalPodAutoscaler').flatMap(hpa => apiAutoscaling(chart, hpa as Hpa, objects));
  });
}

/**
 * Requests/s one pod serves: at the HPA's CPU target (its idle use counted), and at most within the
 * p95 bound (one Node process uses one core at most).
 */
export function podRates(scaling: ApiAutoscaling, path: PathCapacity): { atCpuTarget: number; withinP95: number } {
  return {
    atCpuTarget: rateAtBusyCores(path.cpuUsByRate, scaling.cpuRequest * scaling.cpuTarget - path.idleCores),
    withinP95: path.rpsPerCore * Math.min(1, scaling.cpuLimit),
  };
}

/**
 * The rate at which requests keep `cores` busy, from the measured [rate, CPU us per request] points:
 * busy cores (rate x CPU per request) interpolated linearly between them, from 0 below the first and
 * at the last point's CPU per request above it.
 */
export function rateAtBusyCores(cpuUsByRate: Array<[number, number]>, cores: number): number {
  if (cores <= 0) return 0;
  const points: Array<[number, number]> = [[0, 0], ...[...cpuUsByRate].sort((a, b) => a[0] - b[0]).map(([rate, us]): [number, number] => [rate, (rate * us) / 1e6])];
  for (let i = 1; i < points.length; i++) {
    const [[r0, c0], [r1, c1]] = [points[i - 1], points[i]];
    if (cores <= c1 && c1 > c0) return r0 + ((cores - c0) / (c1 - c0)) * (r1 - r0);
  }
  const [rate, busy] = points[points.length - 1];
  return (cores * rate) / busy;
}

/**
 * `path` as if every request cost what it does at the per-core rate, where many requests share each
 * wake-up of the event loop: the floor of the pods a CPU target asks. At a low rate per pod each
 * request wakes the process alone, and what a wake-up costs is the machine's (its virtualization,
 * its caches), so the measured curve holds for the machine it was measured on and this for one
 * whose wake-ups cost nothing.
 */
export function atPerCoreCost(path: PathCapacity): PathCapacity {
  const atRate = path.cpuUsByRate.filter(([rate]) => rate === path.rpsPerCore);
  return { ...path, cpuUsByRate: atRate.length > 0 ? atRate : path.cpuUsByRate };
}

/** Math.ceil, without floating-point noise turning 10.000000001 into 11. */
const ceil = (x: number) => Math.ceil(x - 1e-9);

/** The HPA's steady state for `rps`: each metric's desired count, the largest, within min and max. */
export function hpaPods(scaling: ApiAutoscaling, path: PathCapacity, rps: number): { pods: number; wanted: number; neededForP95: number } {
  const rates = podRates(scaling, path);
  // desired = ceil(current x utilization / target), utilization (n x idle + rps x cpu) / (n x request): steady when each pod serves atCpuTarget.
  const byCpu = rates.atCpuTarget > 0 ? ceil(rps / rates.atCpuTarget) : Infinity;
  const byPerPod = scaling.perPodTarget ? ceil(rps / scaling.perPodTarget) : 0;
  const wanted = Math.max(byCpu, byPerPod);
  return {
    pods: Math.min(scaling.maxReplicas, Math.max(scaling.minReplicas, wanted)),
    wanted,
    neededForP95: ceil(rps / rates.withinP95),
  };
}

const whole = (n: number) => Math.round(n).toLocaleString('en-US');

/** Per chart and path: what one pod serves and what the chart's maximum replicas carry within the p95 bound. */
export function chartCapacityTable(charts: ApiAutoscaling[], paths: PathCapacity[]): { header: string[]; rows: string[][] } {
  return {
    header: ['chart (HPA)', 'min-max pods', 'CPU request / limit / target', 'path', 'req/s per pod at the CPU target', 'req/s per pod, p95 < 50 ms', 'req/s at max pods, p95 < 50 ms'],
    rows: charts.flatMap(c => paths.map(p => {
      const rates = podRates(c, p);
      return [`${c.chart} (${c.hpa})`, `${c.minReplicas}-${c.maxReplicas}`, `${c.cpuRequest} / ${c.cpuLimit} / ${Math.round(c.cpuTarget * 100)}%${c.perPodTarget ? `, ${c.perPodTarget} req/s per pod` : ''}`,
        p.label, whole(rates.atCpuTarget), whole(rates.withinP95), whole(rates.withinP95 * c.maxReplicas)];
    })),
  };
}

/**
 * Per guide load and path: the pods the HPA would run, the pods its CPU target asks with the measured
 * CPU per request and with the per-core rate's ({@link atPerCoreCost}), the pods the p95 bound needs,
 * and whether the first covers the last.
 */
export function guideLoadTable(charts: ApiAutoscaling[], paths: PathCapacity[], loads: GuideLoad[] = GUIDE_LOADS): { header: string[]; rows: string[][] } {
  return {
    header: ['guide', 'load', 'chart', 'path', 'pods the HPA runs', 'pods its CPU target asks', 'the same at the per-core rate\'s CPU per request', 'pods for p95 < 50 ms', 'p95 held'],
    rows: loads.flatMap(load => {
      const chart = charts.find(c => c.chart === load.chart);
      if (!chart) throw new Error(`no API autoscaler in dist/${load.chart}.k8s.yaml for ${load.guide}`);
      return paths.map(p => {
        const plan = hpaPods(chart, p, load.rps);
        return [load.guide, `${whole(load.rps)} req/s`, `${chart.chart} (${chart.minReplicas}-${chart.maxReplicas})`, p.label,
          `${plan.pods}${plan.wanted > chart.maxReplicas ? ' (max)' : ''}`, whole(plan.wanted), whole(hpaPods(chart, atPerCoreCost(p), load.rps).wanted),
          whole(plan.neededForP95), plan.pods >= plan.neededForP95 ? 'yes' : '**no**'];
      });
    }),
  };
}
