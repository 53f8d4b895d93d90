import { CONSTRUCTOR_LIMIT, FUNCTION_LIMIT, measureFunctions, overLimit } from '../scripts/function-lengths';

const measured = measureFunctions(['lib', 'service/src']);

test('measures constructors and named functions of lib/ and service/src/', () => {
  const names = measured.map(fn => fn.name);
  expect(names).toEqual(expect.arrayContaining(['RedisCluster constructor', 'ScaledApi constructor', 'renderNginxConf', 'resolvePgReplicaSetSettings']));
  expect(measured.find(fn => fn.name === 'ScaledApi constructor')!.isConstructor).toBe(true);
});

test(`no constructor is over ${CONSTRUCTOR_LIMIT} lines and no other function over ${FUNCTION_LIMIT}, a one-template renderer excepted`, () => {
  const over = measured.filter(overLimit).map(fn => `${fn.file}: ${fn.name} (${fn.lines} lines)`);
  expect(over).toEqual([]);
});

test('the limits catch a long constructor, a long function, and spare a one-template renderer', () => {
  const fn = { file: 'x.ts', name: 'f', isConstructor: false, isTemplate: false };
  expect(overLimit({ ...fn, isConstructor: true, lines: CONSTRUCTOR_LIMIT + 1 })).toBe(true);
  expect(overLimit({ ...fn, isConstructor: true, lines: CONSTRUCTOR_LIMIT })).toBe(false);
  expect(overLimit({ ...fn, lines: FUNCTION_LIMIT + 1 })).toBe(true);
  expect(overLimit({ ...fn, lines: FUNCTION_LIMIT + 100, isTemplate: true })).toBe(false);
});
