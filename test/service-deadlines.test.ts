import { Deadlines } from '../service/src/deadlines';
import { sleep, waitFor } from './support/processes';

test('a call that settles in time keeps its value or error; one that does not is rejected at its deadline', async () => {
  // GIVEN deadlines of 50 ms
  const deadlines = new Deadlines(50);
  const late = () => new Error('no answer within 50 ms');

  // WHEN one call answers, one fails and one never settles
  const answered = deadlines.within(Promise.resolve('value'), late);
  const failed = deadlines.within(Promise.reject(new Error('refused')), late);
  const started = performance.now();
  const hung = deadlines.within(new Promise<never>(() => undefined), late);

  // THEN the first two keep their outcome, and the third fails with the timeout error after about 50 ms
  await expect(answered).resolves.toBe('value');
  await expect(failed).rejects.toThrow('refused');
  await expect(hung).rejects.toThrow('no answer within 50 ms');
  expect(performance.now() - started).toBeGreaterThanOrEqual(49);
  expect(performance.now() - started).toBeLessThan(1000);
});

test('calls started one after another expire each at its own deadline, not the first one\'s; settled ones never fire', async () => {
  // GIVEN deadlines of 60 ms, a call that settles at once and two that never do, started 30 ms apart
  const deadlines = new Deadlines(60);
  const fired: string[] = [];
  const settled = deadlines.watch(() => fired.push('settled'));
  settled.done();
  const started = performance.now();
  deadlines.watch(() => fired.push(`first at ${performance.now() - started}`));
  await sleep(30);
  const secondStarted = performance.now() - started;
  deadlines.watch(() => fired.push(`second at ${performance.now() - started}`));

  // WHEN both deadlines have passed (and the timers, however late, have fired)
  await waitFor('two deadlines to fire', async () => fired.length >= 2, 5_000, 5);
  await sleep(20);

  // THEN each fired once, none before its own deadline (a timer may fire late on a loaded machine,
  // never early), so the second not at the first's, and the settled one never
  expect(fired).toHaveLength(2);
  const [first, second] = fired.map(line => Number(line.replace(/^\w+ at /, '')));
  expect(fired[0]).toMatch(/^first/);
  expect(first).toBeGreaterThanOrEqual(59);
  expect(second).toBeGreaterThanOrEqual(secondStarted + 59);
});

test('thousands of settled calls leave no entries behind once their deadline has passed', async () => {
  const deadlines = new Deadlines(20);
  for (let i = 0; i < 5000; i++) deadlines.watch(() => { throw new Error('a settled call fired'); }).done();
  // Once the timer of the last deadline has fired (late, on a loaded machine), nothing is left.
  const entries = () => (deadlines as unknown as { entries: unknown[] }).entries;
  await waitFor('the entries to be dropped', async () => entries().length === 0, 5_000, 5).catch(() => undefined);
  expect(entries()).toHaveLength(0);
});
