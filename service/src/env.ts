/** Reads an integer env var, or the default; throws naming the variable when it is not one in range. */
export function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} (${JSON.stringify(raw)}) must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** A `host:port` list (REDIS_CLUSTER_NODES, REDIS_SENTINELS, POSTGRES_READ_REPLICAS); throws naming the variable and the entry. */
export function hostPortsFromEnv(env: NodeJS.ProcessEnv, name: string): Array<{ host: string; port: number }> {
  return (env[name] ?? '').split(',').map(entry => entry.trim()).filter(Boolean).map(entry => {
    const match = /^([^\s,]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) throw new Error(`${name} entry ${JSON.stringify(entry)} must be host:port`);
    return { host: match[1], port };
  });
}
