import { ProcessGroup } from '../../test/support/processes';
import { ScenarioResult } from './report';
import {
  Backend, serviceEnv, Stack, startBareServer, startLoadBalancer, startService, startStack,
} from './stack';

/** The four backends of the read path, each behind its own nginx. */
export type Variant = 'bare' | 'cached' | 'replica' | 'primary';
export const VARIANTS: Variant[] = ['bare', 'cached', 'replica', 'primary'];

export interface Backends {
  /** Each variant's process, reached directly. */
  readonly direct: Record<Variant, Backend>;
  /** Each variant through its nginx (the rendered LoadBalancer config). */
  readonly balanced: Record<Variant, string>;
}

/** What scenarios share: the stack and the backends, started once on first use. */
export class BenchContext {
  public readonly group = new ProcessGroup();
  private stackStarted?: Promise<Stack>;
  private backendsStarted?: Promise<Backends>;

  /** `profile`: run the services with `--cpu-prof` into this directory. */
  constructor(public readonly profileDir?: string) {}

  public stack(): Promise<Stack> {
    this.stackStarted ??= startStack(this.group);
    return this.stackStarted;
  }

  public backends(): Promise<Backends> {
    this.backendsStarted ??= this.startBackends();
    return this.backendsStarted;
  }

  private async startBackends(): Promise<Backends> {
    const stack = await this.stack();
    const nodeArgs = this.profileDir ? ['--cpu-prof', '--cpu-prof-dir', this.profileDir] : [];
    const direct: Record<Variant, Backend> = {
      bare: await startBareServer(stack, nodeArgs),
      cached: await startService(stack, serviceEnv(stack, { cache: true, readPolicy: 'replicas' }), nodeArgs),
      replica: await startService(stack, serviceEnv(stack, { cache: false, readPolicy: 'replicas' }), nodeArgs),
      primary: await startService(stack, serviceEnv(stack, { cache: false, readPolicy: 'primary' }), nodeArgs),
    };
    const balanced = {} as Record<Variant, string>;
    for (const variant of VARIANTS) balanced[variant] = await startLoadBalancer(stack, [direct[variant].port]);
    return { direct, balanced };
  }
}

/** What a scenario returns; the runner adds id, title and time. */
export type ScenarioOutcome = Pick<ScenarioResult, 'figures' | 'method' | 'data' | 'tables'>;

export interface Scenario {
  readonly id: string;
  readonly title: string;
  run(context: BenchContext): Promise<ScenarioOutcome>;
}
