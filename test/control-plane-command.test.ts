/**
 * `npm run control-plane` as a developer runs it: started in the foreground, it prints how to
 * use it once the control plane is up; SIGTERM stops every process it started, and one of them
 * dying stops the rest. Each test runs its own, in a state directory of its own
 * (`HSCALE_CONTROL_PLANE_DIR`), killed in afterEach if a test left it running.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { basename, join } from 'path';
import { DEFAULT_BIN_DIR, missingBinaries, REPO_ROOT } from '../scripts/control-plane/index';
import { waitFor } from './support/processes';

jest.setTimeout(300_000);

interface Running {
  readonly command: ChildProcess;
  readonly dir: string;
  readonly output: () => string;
  readonly exit: Promise<number | null>;
}

let running: Running | undefined;

beforeAll(() => {
  const missing = missingBinaries();
  if (missing.length) throw new Error(`${missing.join(', ')} not built in ${DEFAULT_BIN_DIR}: run \`npm run control-plane:build\``);
});

afterEach(async () => {
  if (running && running.command.exitCode === null) {
    for (const pid of childPids(running.command.pid!)) signal(pid, 'SIGKILL');
    running.command.kill('SIGKILL');
    await running.exit;
  }
  if (running) rmSync(running.dir, { recursive: true, force: true });
  running = undefined;
});

/** Starts `scripts/control-plane.ts` (what `npm run control-plane` runs once the binaries are built) and waits for its banner. */
async function startCommand(): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'hscale-control-plane-command-'));
  const command = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'ts-node'), ['--transpile-only', join(REPO_ROOT, 'scripts', 'control-plane.ts')], {
    cwd: REPO_ROOT, env: { ...process.env, HSCALE_CONTROL_PLANE_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  command.stdout!.on('data', chunk => { output += chunk; });
  command.stderr!.on('data', chunk => { output += chunk; });
  const exit = new Promise<number | null>(resolve => command.on('exit', code => resolve(code)));
  running = { command, dir, output: () => output, exit };
  await waitFor('the control plane\'s banner', async () => {
    if (command.exitCode !== null) throw new Error(`npm run control-plane exited ${command.exitCode}:\n${output}`);
    return output.includes('A Kubernetes control plane is up');
  }, 240_000, 500);
  return running;
}

/** The processes `pid` started, from /proc. */
function childPids(pid: number): number[] {
  return readdirSync('/proc').filter(entry => /^\d+$/.test(entry)).map(Number).filter(child => {
    try {
      return Number(readFileSync(`/proc/${child}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]) === pid;
    } catch {
      return false; // exited since the listing
    }
  });
}

/** Sends `name` to `pid`; false when there is no such process. */
function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

/** The program `pid` runs (its argv[0]'s base name: /proc/<pid>/comm is cut at 15 characters). */
const commandName = (pid: number) => basename(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]);

test('it prints the kubeconfig to use, which reaches 6 Ready nodes; SIGTERM stops every process it started and exits 0', async () => {
  const { command, dir, output, exit } = await startCommand();
  const kubeconfig = join(dir, 'kubeconfig');
  expect(output()).toContain(`export KUBECONFIG=${kubeconfig}`);
  const nodes = execFileSync(join(DEFAULT_BIN_DIR, 'kubectl'), ['--kubeconfig', kubeconfig, 'get', 'nodes', '--no-headers'], { encoding: 'utf8' });
  expect(nodes.trim().split('\n').filter(line => / Ready /.test(line))).toHaveLength(6);
  const children = childPids(command.pid!);
  expect(children.map(commandName).sort()).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']);

  command.kill('SIGTERM');
  expect(await exit).toBe(0);
  expect(children.filter(pid => signal(pid, 0))).toEqual([]);
  expect(output()).toContain('SIGTERM, stopping');
});

test('a process of the control plane that dies stops the rest, and the command exits 1', async () => {
  const { command, output, exit } = await startCommand();
  const children = childPids(command.pid!);
  const scheduler = children.find(pid => commandName(pid) === 'kube-scheduler')!;
  signal(scheduler, 'SIGKILL');
  expect(await exit).toBe(1);
  expect(children.filter(pid => signal(pid, 0))).toEqual([]);
  expect(output()).toContain('kube-scheduler exited');
});
