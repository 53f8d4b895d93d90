import fc from 'fast-check';
import { assertCacheKey, itemKey, listKey } from '../service/src/cache/keys';
import { decodeCursor, encodeCursor } from '../service/src/db/items';

const ID = 'ab0d1e2f-0000-4000-8000-000000000001';
const cursor = encodeCursor({ created_key: '2026-01-02 03:04:05.123456+00', id: ID });

test('an item key lowercases its UUID, so every case of one id is one key', () => {
  expect(itemKey(ID.toUpperCase())).toBe(`item:{${ID}}`);
  expect(itemKey(ID)).toBe(`item:{${ID}}`);
});

test('throws error, when an item key is asked for something that is not a UUID (a hash tag, say)', () => {
  expect(() => itemKey('hscale')).toThrow('an item key needs a UUID, not "hscale"');
});

test('a cursor is decoded only from its canonical text; junk, padding and a trailing hash tag make it no cursor', () => {
  expect(decodeCursor(cursor)).toEqual(['2026-01-02 03:04:05.123456+00', ID]);
  for (const variant of [`${cursor}={hscale}`, `${cursor}=`, `${cursor}.`, `${cursor}x`, `!${cursor}`, `${cursor.slice(0, -1)}`]) {
    expect(decodeCursor(variant)).toBeUndefined();
  }
});

test('a cursor naming an upper-case id gives the same page key as the canonical one', () => {
  const upper = Buffer.from(JSON.stringify(['2026-01-02 03:04:05.123456+00', ID.toUpperCase()])).toString('base64url');
  expect(listKey(20, decodeCursor(upper))).toBe(listKey(20, decodeCursor(cursor)));
  expect(listKey(20, decodeCursor(cursor))).toBe(`items:list:20:${cursor}`);
});

test('no text a client can send gives a list key with a brace: every key it yields passes the cache\'s check', () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 100 }), (text, limit) => {
    const decoded = decodeCursor(text);
    if (decoded === undefined) return;
    const key = listKey(limit, decoded);
    expect(key).not.toMatch(/[{}]/);
    assertCacheKey(key);
  }), { numRuns: 2000 });
});

test('throws error, when the cache is handed a key with a hash tag that is not an item\'s UUID', () => {
  expect(() => assertCacheKey('items:list:20:abc={hscale}')).toThrow('not a cache key: "items:list:20:abc={hscale}"');
  expect(() => assertCacheKey('item:{hscale}')).toThrow('not a cache key: "item:{hscale}"');
  expect(() => assertCacheKey(`item:{${ID}}`)).not.toThrow();
});
