import { App } from 'cdk8s';
import { ProductionChart } from './production-chart';

/** The cdk8s app of this repository: every chart in `charts/`, written to `outdir`. */
export function buildApp(outdir = 'dist'): App {
  const app = new App({ outdir });
  new ProductionChart(app, 'hscale', { namespace: 'hscale' });
  return app;
}
