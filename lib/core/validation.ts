import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import { Construct } from 'constructs';

/**
 * The error every construct throws for a prop that cannot work: it names the construct
 * path, the prop, the value and the rule, e.g.
 * `hscale/api: 'minReplicas' (11) must be less than or equal to 'maxReplicas' (10)`.
 */
export function propError(scope: Construct, prop: string, value: unknown, rule: string): Error {
  return new Error(`${scope.node.path}: '${prop}' (${formatValue(value)}) ${rule}`);
}

/**
 * A value as an error message quotes it: strings, arrays and objects as JSON, with a Duration or a
 * Size as its length, a construct as its class and path, and any other class instance as its class.
 */
export function formatValue(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'object') return typeof value === 'function' ? 'a function' : String(value);
  return JSON.stringify(value, (_key, v: unknown) => describeInstance(v)) ?? String(value);
}

function describeInstance(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return value;
  if (value instanceof Duration) return `Duration ${value.toHumanString()}`;
  if (value instanceof Size) return `Size ${value.toKibibytes({ rounding: SizeRoundingBehavior.NONE })}KiB`;
  if (Construct.isConstruct(value)) return `${value.constructor.name} ${value.node.path}`;
  return `a ${proto.constructor?.name ?? 'class instance'}`;
}

/** The namespace label the API server sets itself and no user can change. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * Throws unless a NetworkPolicy peer in other namespaces pins them by `kubernetes.io/metadata.name`:
 * a pod label is a claim any pod can make, and other namespace labels are set by whoever owns the namespace.
 */
export function requirePinnedPeer<P extends { readonly namespaceSelector?: Record<string, string> }>(scope: Construct, prop: string, peer: P): P {
  if (peer.namespaceSelector !== undefined && peer.namespaceSelector[NAMESPACE_NAME_LABEL] === undefined) {
    throw propError(scope, `${prop}.namespaceSelector`, JSON.stringify(peer.namespaceSelector),
      `must pin the namespace with '${NAMESPACE_NAME_LABEL}' (e.g. { '${NAMESPACE_NAME_LABEL}': 'monitoring' }), `
      + 'or be left out for the chart\'s own namespace: any pod in another namespace can carry the labels of \'podSelector\'');
  }
  return peer;
}

/** Throws unless `value` is an integer within `min`..`max` (inclusive). */
export function requireIntInRange(scope: Construct, prop: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw propError(scope, prop, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Throws unless `value` is a finite number greater than zero. */
export function requirePositive(scope: Construct, prop: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw propError(scope, prop, value, 'must be a number greater than 0');
  }
  return value;
}

/** Throws unless `value` is one of `allowed`. */
export function requireOneOf<T extends string>(scope: Construct, prop: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw propError(scope, prop, value, `must be one of ${allowed.map(a => `'${a}'`).join(', ')}`);
  }
  return value;
}

export function requirePort(scope: Construct, prop: string, value: number): number {
  return requireIntInRange(scope, prop, value, 1, 65535);
}

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws unless `value` is an RFC 1123 label (lower case alphanumerics and '-', at most 63 characters). */
export function requireDnsLabel(scope: Construct, prop: string, value: string): string {
  if (value.length > 63 || !DNS_1123_LABEL.test(value)) {
    throw propError(scope, prop, value,
      'must be a DNS-1123 label: at most 63 lower case alphanumeric characters or \'-\', starting and ending with an alphanumeric');
  }
  return value;
}

// repository[:tag][@digest]; a digest or a tag other than 'latest' is required, so rollouts are reproducible.
// A registry port is followed by a path ('localhost:5000/api'), so 'redis:7' reads as a tag.
const IMAGE_REFERENCE = /^(?<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+(?=\/))?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$/;

/** Throws unless `value` is an image reference pinned by a tag other than `latest` or by a digest. */
export function requirePinnedImage(scope: Construct, prop: string, value: string): string {
  const match = IMAGE_REFERENCE.exec(value);
  const tag = match?.groups?.tag;
  const digest = match?.groups?.digest;
  if (!match || (!digest && (!tag || tag === 'latest'))) {
    throw propError(scope, prop, value,
      'must be an image reference pinned by a tag other than \'latest\' or by a sha256 digest, e.g. \'registry.example.com/api:1.4.2\'');
  }
  return value;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * The image a container runs: `image` checked as {@link requirePinnedImage}, with `digest` (the
 * prop `<prop>Digest`) appended as `image@sha256:...` when given, so every construct renders a
 * digest one way. The digest must be `sha256:` and 64 hex digits, and the image must carry no other.
 */
export function pinnedImage(scope: Construct, prop: string, image: string, digest: string | undefined): string {
  if (digest === undefined) return requirePinnedImage(scope, prop, image);
  const digestProp = `${prop}Digest`;
  if (!DIGEST.test(digest)) throw propError(scope, digestProp, digest, 'must be \'sha256:\' followed by 64 lower-case hex digits');
  if (image.includes('@')) throw propError(scope, digestProp, digest, `must not be given when '${prop}' (${image}) already holds a digest`);
  return requirePinnedImage(scope, prop, `${image}@${digest}`);
}

/**
 * A Kubernetes resource quantity: a number with an optional suffix, e.g. '250m', '1', '512Mi', '10Gi'.
 * @format quantity
 */
export type Quantity = string;

const QUANTITY = /^([+-]?[0-9.]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/;
const QUANTITY_FACTORS: Record<string, number> = {
  '': 1, 'm': 1e-3, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'E': 1e18,
  'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60,
};

/** Parses a Kubernetes resource quantity ('250m', '1Gi', '2') into its plain number, or undefined. */
export function parseQuantity(value: string): number | undefined {
  const match = QUANTITY.exec(value);
  if (!match || Number.isNaN(Number(match[1]))) return undefined;
  const suffix = match[2] ?? '';
  // 'E' alone is the exa suffix; an exponent has digits ('1e3').
  if (/^[eE][-+]?[0-9]/.test(suffix)) return Number(match[1] + suffix);
  return Number(match[1]) * QUANTITY_FACTORS[suffix];
}

/** Throws unless `value` is a Kubernetes quantity greater than zero; returns its plain number. */
export function requireQuantity(scope: Construct, prop: string, value: string): number {
  const parsed = parseQuantity(value);
  if (parsed === undefined || parsed <= 0) {
    throw propError(scope, prop, value, 'must be a Kubernetes quantity greater than 0, e.g. \'250m\', \'1\', \'512Mi\', \'10Gi\'');
  }
  return parsed;
}

/**
 * The known name closest to `name`, if any: within two edits, or sharing its first three quarters
 * (at least four characters; `ready` for `readiness`), as a typo or a shortening would.
 */
export function closestName(name: string, known: string[]): string | undefined {
  const lower = name.toLowerCase();
  const shared = Math.max(4, Math.ceil(lower.length * 0.75));
  const scored = known.map(k => ({ k, d: editDistance(lower, k.toLowerCase()) }))
    .filter(s => s.d <= 2 || (lower.length >= shared && s.k.toLowerCase().startsWith(lower.slice(0, shared))));
  return scored.sort((a, b) => a.d - b.d)[0]?.k;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Every value of the string union `T`, in the order written: a value outside `T`, or a member
 * of `T` left out, is a type error, so a prop's public type (a plain union) and the list it is
 * checked against at synth time cannot drift apart.
 */
export function valuesOf<T extends string>(values: Record<T, true>): T[] {
  return Object.keys(values) as T[];
}

/** Throws unless `min <= max`, naming both replica props. */
export function requireReplicaRange(scope: Construct, minReplicas: number, maxReplicas: number): void {
  if (minReplicas > maxReplicas) {
    throw propError(scope, 'minReplicas', minReplicas, `must be less than or equal to 'maxReplicas' (${maxReplicas})`);
  }
}

/**
 * Throws unless `duration` is a whole number of `unit` from `min` to `max` (inclusive); returns
 * that number. Converting without rounding first, so 1.5 s given for whole seconds is an error
 * naming the prop, not cdk8s's own conversion error or a silent rounding.
 */
export function requireWholeDuration(
  scope: Construct, prop: string, duration: Duration, unit: 'seconds' | 'milliseconds', min: number, max: number,
): number {
  const value = unit === 'seconds' ? duration.toSeconds({ integral: false }) : duration.toMilliseconds({ integral: false });
  const suffix = unit === 'seconds' ? 's' : 'ms';
  if (!Number.isInteger(value) || value < min || value > max) {
    throw propError(scope, prop, `${value}${suffix}`, `must be a whole number of ${unit} from ${min}${suffix} to ${max}${suffix}`);
  }
  return value;
}
