import { PoolTimeoutError } from '../service/src/db/errors';
import { Semaphore } from '../service/src/db/semaphore';

test('at most max holders at once; the next waiter takes the slot of the one that releases', async () => {
  // GIVEN a semaphore of 2, both slots taken
  const slots = new Semaphore('primary', 2, 1000);
  await slots.acquire();
  await slots.acquire();
  let third = false;
  const waiting = slots.acquire().then(() => { third = true; });
  await new Promise(resolve => setImmediate(resolve));
  expect([slots.busy, slots.queued, third]).toEqual([2, 1, false]);

  // WHEN one releases
  slots.release();
  await waiting;

  // THEN the waiter holds its slot and the count stays at the bound
  expect([slots.busy, slots.queued, third]).toEqual([2, 0, true]);
  slots.release();
  slots.release();
  expect(slots.busy).toBe(0);
});

test('throws error, when no slot is free within the timeout: a PoolTimeoutError that leaves no waiter behind', async () => {
  const slots = new Semaphore('replica-1', 1, 30);
  await slots.acquire();
  const failed = slots.acquire();
  await expect(failed).rejects.toThrow(new PoolTimeoutError('replica-1', 30));
  await expect(failed).rejects.toBeInstanceOf(PoolTimeoutError);
  expect(slots.queued).toBe(0);
  slots.release();
  expect(slots.busy).toBe(0);
});

test('run releases its slot when the function throws', async () => {
  const slots = new Semaphore('primary', 1, 30);
  await expect(slots.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
  expect(slots.busy).toBe(0);
  await expect(slots.run(async () => 7)).resolves.toBe(7);
});

test('throws error, when max is not a positive integer', () => {
  expect(() => new Semaphore('primary', 0, 30)).toThrow('semaphore \'primary\': max (0) must be a positive integer');
});

test('throws error, when waiters outlast the timeout one after another: each fails at its own deadline, not the first one\'s', async () => {
  // GIVEN a full semaphore and two waiters queued 40 ms apart
  const slots = new Semaphore('primary', 1, 100);
  await slots.acquire();
  const started = performance.now();
  const failedAt = (promise: Promise<unknown>) => promise.then(() => Infinity, () => performance.now() - started);
  const first = failedAt(slots.acquire());
  await new Promise(resolve => setTimeout(resolve, 40));
  const secondQueuedMs = performance.now() - started;
  const second = failedAt(slots.acquire());

  // THEN each is refused once its own 100 ms have passed (timers may fire late on a busy machine, never early)
  const [firstMs, secondMs] = await Promise.all([first, second]);
  expect(firstMs).toBeGreaterThanOrEqual(99);
  expect(secondMs).toBeGreaterThanOrEqual(secondQueuedMs + 99);
  expect(slots.queued).toBe(0);
});

test('a waiter handed a slot is never refused afterwards, and no timer is left once nobody waits', async () => {
  // GIVEN a full semaphore and a waiter
  const timers = () => process.getActiveResourcesInfo().filter(kind => kind === 'Timeout').length;
  const slots = new Semaphore('primary', 1, 50);
  await slots.acquire();
  const before = timers();
  const waiter = slots.acquire();

  // WHEN the holder releases before the timeout
  slots.release();

  // THEN the waiter holds the slot past the timeout, and nothing is pending in the event loop for it
  await expect(waiter).resolves.toBe(false);
  expect(timers()).toBe(before);
  await new Promise(resolve => setTimeout(resolve, 80));
  expect([slots.busy, slots.queued]).toEqual([1, 0]);
  slots.release();
});

test('throws error, when perConnection does not divide max', () => {
  expect(() => new Semaphore('replica-1', 10, 30, 4)).toThrow('semaphore \'replica-1\': perConnection (4) must be a positive integer dividing max (10)');
});

test('throws error, when a pipelined holder is still unanswered after the timeout while an older holder runs: it may be queued behind it', async () => {
  // GIVEN one connection carrying two queries: a slow one, and one pipelined after it
  const slots = new Semaphore('primary', 2, 50, 2);
  let endSlow!: () => void;
  const slow = slots.run(() => new Promise<void>(resolve => { endSlow = resolve; }));
  const started = performance.now();
  const pipelined = slots.run(() => new Promise<void>(() => undefined));
  await new Promise(resolve => setImmediate(resolve));

  // THEN the pipelined one is refused after the timeout, though the slow one still runs, and gives its slot back
  await expect(pipelined).rejects.toThrow(new PoolTimeoutError('primary', 50));
  expect(performance.now() - started).toBeGreaterThanOrEqual(49);
  expect(slots.busy).toBe(1);
  endSlow();
  await slow;
  expect(slots.busy).toBe(0);
});

test('a pipelined holder whose older holders have all ended runs past the timeout: it is running, not queued', async () => {
  // GIVEN one connection carrying two queries, the first of which ends at once
  const slots = new Semaphore('primary', 2, 30, 2);
  let endFirst!: () => void;
  const first = slots.run(() => new Promise<void>(resolve => { endFirst = resolve; }));
  const second = slots.run(() => new Promise<string>(resolve => setTimeout(() => resolve('answered'), 80)));
  await new Promise(resolve => setImmediate(resolve));
  endFirst();
  await first;

  // THEN the second, a query running for longer than the timeout, is answered
  await expect(second).resolves.toBe('answered');
  expect(slots.busy).toBe(0);
});

test('a holder within one per connection is never refused for running long, pipelined or not', async () => {
  // GIVEN two connections, a slow query on each
  const slots = new Semaphore('primary', 4, 30, 2);
  const slow = () => slots.run(() => new Promise<string>(resolve => setTimeout(() => resolve('answered'), 80)));
  // THEN both are answered after the timeout: neither took a slot beyond one per connection
  await expect(Promise.all([slow(), slow()])).resolves.toEqual(['answered', 'answered']);
});
