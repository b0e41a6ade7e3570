import DataLoader from "dataloader";

/**
 * A loader that only batches: every load() made in the same tick (the sibling resolvers of one
 * page) becomes one call of `batch`. No cache, on purpose: a WebSocket subscription keeps its
 * context for its whole life and a request may run several mutations, so a cached value would go
 * stale; each field reads what the database holds now, as it did before batching.
 */
export function batchLoader<K, V>(batch: (keys: readonly K[]) => Promise<Map<string, V>>, keyOf: (key: K) => string, missing: (key: K) => V) {
  return new DataLoader<K, V, string>(
    async (keys) => {
      const found = await batch(keys);
      return keys.map((key) => found.get(keyOf(key)) ?? missing(key));
    },
    { cache: false },
  );
}

/** The distinct keys of a batch: with no cache, DataLoader passes repeated keys on to the batch. */
export function distinct<K>(keys: readonly K[], keyOf: (key: K) => string): K[] {
  const seen = new Map<string, K>();
  for (const key of keys) if (!seen.has(keyOf(key))) seen.set(keyOf(key), key);
  return [...seen.values()];
}
