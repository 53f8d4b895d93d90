#!/usr/bin/env node
/**
 * `node scripts/run-lanes.cjs "typecheck build" "lint api"`: runs each argument's npm scripts one
 * after another, and the arguments (lanes) side by side. tsc and eslint each use one core, so on
 * two cores two lanes take about half the time of one. Each lane's output is printed whole when
 * it ends, so the lanes' lines never interleave; the exit code is 1 when any script failed, after
 * every lane has ended.
 */
const { spawn } = require('child_process');

/** Runs `npm run <script>`, resolving with its exit code and its combined output. */
function runScript(script) {
  return new Promise(resolve => {
    const child = spawn('npm', ['run', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = [];
    child.stdout.on('data', chunk => output.push(chunk));
    child.stderr.on('data', chunk => output.push(chunk));
    child.on('error', error => resolve({ code: 1, output: `${error.message}\n` }));
    child.on('close', code => resolve({ code: code ?? 1, output: Buffer.concat(output).toString() }));
  });
}

/** The lane's scripts in order, stopping at the first that fails; resolves true when all passed. */
async function runLane(scripts) {
  for (const script of scripts) {
    const started = Date.now();
    const { code, output } = await runScript(script);
    process.stdout.write(`${output}\n[${script}: ${code === 0 ? 'passed' : `failed with exit code ${code}`} in ${((Date.now() - started) / 1000).toFixed(1)} s]\n`);
    if (code !== 0) return false;
  }
  return true;
}

const lanes = process.argv.slice(2).map(lane => lane.split(/\s+/).filter(Boolean));
if (lanes.length === 0 || lanes.some(lane => lane.length === 0)) {
  process.stderr.write('usage: run-lanes.cjs "<script> <script> ..." "<script> ..." (one quoted argument per lane)\n');
  process.exit(2);
}
Promise.all(lanes.map(runLane)).then(results => process.exit(results.every(Boolean) ? 0 : 1));
