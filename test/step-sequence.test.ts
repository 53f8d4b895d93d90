import { ModeLock, StepSequence } from './support/step-sequence';

/** Settles pending promise callbacks (no timers involved). */
const settle = () => new Promise<void>(resolve => setImmediate(resolve));

test('holders of one mode share the lock; the other mode waits for the last of them, and holds back later arrivals', async () => {
  // GIVEN
  const lock = new ModeLock<'placing' | 'draining'>();
  const log: string[] = [];
  const take = (mode: 'placing' | 'draining', name: string) => lock.acquire(mode).then(release => { log.push(name); return release; });

  // WHEN
  const [first, second] = await Promise.all([take('placing', 'p1'), take('placing', 'p2')]);
  const drain = take('draining', 'd1');
  const late = take('placing', 'p3');
  await settle();

  // THEN
  expect(log).toEqual(['p1', 'p2']);
  first();
  await settle();
  expect(log).toEqual(['p1', 'p2']);
  second();
  (await drain)();
  await late;
  expect(log).toEqual(['p1', 'p2', 'd1', 'p3']);
});

test('steps run in order once started; a failed step fails its test with its error, and the next step still runs', async () => {
  // GIVEN
  const run = new StepSequence(new ModeLock<'placing'>());
  const ran: string[] = [];
  const first = run.step(async () => { ran.push('first'); throw new Error('first failed'); }, 'placing');
  const second = run.step(async () => { ran.push('second'); });

  // WHEN
  await expect(first()).rejects.toThrow('the steps were never started: call start() in a beforeAll');
  await run.start();

  // THEN
  expect(ran).toEqual(['first', 'second']);
  await expect(first()).rejects.toThrow('first failed');
  await expect(second()).resolves.toBeUndefined();
});
