/** The cache key of one item: the id is the hash tag, so the key and its write marker share a cluster slot. */
export const itemKey = (id: string) => `item:{${id}}`;
/** The tag every cached list carries; a write bumps it. */
export const LIST_TAG = 'items';
