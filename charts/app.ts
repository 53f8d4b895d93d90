import { App } from 'cdk8s';
import { BetIntelChart } from './bet-intel-chart';
import { CmsChart } from './cms-chart';
import { FastNextChart } from './fastnext-chart';
import { ProductionChart } from './production-chart';
import { TutorMaxChart } from './tutormax-chart';

/** The cdk8s app of this repository: every chart in `charts/`, each in its own namespace and file, written to `outdir`. */
export function buildApp(outdir = 'dist'): App {
  const app = new App({ outdir });
  new ProductionChart(app, 'hscale', { namespace: 'hscale' });
  new FastNextChart(app, 'fastnext', { namespace: 'fastnext' });
  new TutorMaxChart(app, 'tutormax', { namespace: 'tutormax' });
  new CmsChart(app, 'cms', { namespace: 'cms' });
  new BetIntelChart(app, 'bet-intel', { namespace: 'bet-intel' });
  return app;
}
