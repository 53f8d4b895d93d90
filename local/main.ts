import { parseArgs } from 'util';
import { LocalStack } from './stack';

/* eslint-disable no-console -- a command line tool: its output is the point */

const USAGE = 'usage: npm run local [-- --chart <name>] [--api-instances <n>]';

function options(): { chart?: string; apiInstances?: number } {
  const { values } = parseArgs({ options: { 'chart': { type: 'string' }, 'api-instances': { type: 'string' } } });
  const apiInstances = values['api-instances'] === undefined ? undefined : Number(values['api-instances']);
  if (apiInstances !== undefined && !(Number.isInteger(apiInstances) && apiInstances >= 1)) {
    throw new Error(`--api-instances (${values['api-instances']}) must be an integer of 1 or more\n${USAGE}`);
  }
  return { chart: values.chart, apiInstances };
}

/** `npm run local`: the chart's topology on loopback until Ctrl-C or SIGTERM. */
async function main(): Promise<void> {
  const started = Date.now();
  const stack = await LocalStack.prepare({ ...options(), log: line => console.log(line) });
  let up = false;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping every process`);
    await stack.stop();
    console.log('stopped; no process or temp dir left');
    process.exit(0);
  };
  // A signal while starting aborts the start, which removes what it started.
  const onSignal = (signal: string) => (up ? void stop(signal) : stack.abort());
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await stack.start();
  up = true;
  console.log(`\n${stack.chart.name} is up in ${((Date.now() - started) / 1000).toFixed(1)} s (state: .local/state.json):`);
  for (const [name, url] of Object.entries(stack.urls())) console.log(`  ${name.padEnd(24)} ${url}`);
  if (stack.tokens.write) console.log('\nWrites need a token: .local/state.json holds one as tokens.write (send it as Authorization: Bearer <token>).');
  console.log('\nCtrl-C stops everything.');
}

main().catch(error => {
  console.error((error as Error).message);
  process.exit(1);
});
