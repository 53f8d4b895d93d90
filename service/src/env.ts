import { readFileSync } from 'fs';

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

/** Reads a `true`/`false` env var (unset or empty: false); throws naming the variable on any other value. */
export function booleanFromEnv(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new Error(`${name} (${JSON.stringify(raw)}) must be true or false`);
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

/**
 * A secret from `name` or from the file `<name>_FILE` names (a Secret mounted as a volume, so the
 * value is in no env a `ps e` or a crash dump shows); one trailing newline of the file is dropped.
 * Undefined when neither is set; throws naming the variable when both are, or the file cannot be read.
 */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const fileName = `${name}_FILE`;
  if (env[name] && env[fileName]) throw new Error(`set ${name} or ${fileName}, not both`);
  if (!env[fileName]) return env[name] || undefined;
  return readSecretFile(env[fileName]!, fileName).replace(/\r?\n$/, '') || undefined;
}

/** The text of a mounted secret file; throws naming the variable and the path (never the content). */
export function readSecretFile(path: string, name: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${name} names a file that cannot be read: ${path}`, { cause: error });
  }
}
