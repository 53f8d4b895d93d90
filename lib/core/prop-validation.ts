import Ajv, { ErrorObject, SchemaValidateFunction, ValidateFunction } from 'ajv';
import { Construct } from 'constructs';
import { PROP_SCHEMAS, PropsInterface } from './generated/prop-schemas';
import { renamedProp } from './renamed-props';
import { closestName, formatValue, parseQuantity } from './validation';

// Every construct's props are checked against the JSON Schema generated from its props interface
// (scripts/prop-schemas.ts, `npm run schemas`) before the constructor reads any of them, so a
// JavaScript caller's mistake is an error naming the construct path, the prop path, the value and
// what is allowed, never a TypeError from deep inside and never a prop silently ignored.

/** A JSON Schema node as the generator writes it, with its three custom keywords. */
interface PropSchema {
  readonly $ref?: string;
  readonly type?: string | string[];
  readonly format?: string;
  readonly enum?: unknown[];
  readonly const?: unknown;
  readonly anyOf?: PropSchema[];
  readonly items?: PropSchema;
  readonly properties?: Record<string, PropSchema>;
  readonly additionalProperties?: PropSchema | boolean;
  readonly description?: string;
  readonly default?: unknown;
  readonly instanceof?: string;
  readonly implements?: InterfaceContract;
  readonly onlyWhen?: ModeRule;
}

/** `implements`: the required members of an `I`-named interface, and the classes of hscale that have them. */
interface InterfaceContract {
  readonly interface: string;
  readonly members: string[];
  readonly methods: string[];
  readonly classes: string[];
}

/** `onlyWhen`: the props that apply to some values of the mode prop only (`@onlyWhen mode=cluster`). */
interface ModeRule {
  readonly prop: string;
  readonly default?: string;
  readonly props: Record<string, string[]>;
}

const DEFINITIONS = PROP_SCHEMAS.definitions as Record<string, PropSchema>;

/** Whether `value` is an object of the class named `name` or of a subclass: by name, so a second copy of cdk8s in the user's tree counts too. */
function isInstanceOf(value: unknown, name: string): boolean {
  for (let proto = isObject(value) ? Object.getPrototypeOf(value) : null; proto; proto = Object.getPrototypeOf(proto)) {
    if (proto.constructor?.name === name) return true;
  }
  return false;
}

function implementsContract(value: unknown, contract: InterfaceContract): boolean {
  if (!isObject(value)) return false;
  const members = value as Record<string, unknown>;
  return contract.members.every(m => members[m] !== undefined) && contract.methods.every(m => typeof members[m] === 'function');
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

const checkModes: SchemaValidateFunction = (rule: ModeRule, data: Record<string, unknown>, schema, context) => {
  const modeDoc = (schema as PropSchema | undefined)?.properties?.[rule.prop]?.description;
  const mode = data[rule.prop] ?? rule.default;
  const misplaced = Object.entries(rule.props).filter(([prop, modes]) => data[prop] !== undefined && !modes.includes(String(mode)));
  checkModes.errors = misplaced.map(([prop, modes]) => ({
    keyword: 'onlyWhen', instancePath: `${context?.instancePath ?? ''}/${prop}`, params: { modeProp: rule.prop, mode, modes, modeDoc, value: data[prop] },
  }));
  return misplaced.length === 0;
};

function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true });
  ajv.addFormat('quantity', { type: 'string', validate: (value: string) => (parseQuantity(value) ?? 0) > 0 });
  ajv.addKeyword({ keyword: 'instanceof', schemaType: 'string', validate: (name: string, data: unknown) => isInstanceOf(data, name) });
  ajv.addKeyword({ keyword: 'implements', schemaType: 'object', validate: (contract: InterfaceContract, data: unknown) => implementsContract(data, contract) });
  ajv.addKeyword({ keyword: 'onlyWhen', type: 'object', schemaType: 'object', errors: true, validate: checkModes });
  ajv.addSchema(PROP_SCHEMAS, 'props');
  return ajv;
}

let ajv: Ajv | undefined;
const validators = new Map<PropsInterface, ValidateFunction>();

function validatorOf(type: PropsInterface): ValidateFunction {
  ajv ??= createAjv();
  let validate = validators.get(type);
  if (!validate) {
    validate = ajv.getSchema(`props#/definitions/${type}`)!;
    validators.set(type, validate);
  }
  return validate;
}

/**
 * Throws unless `props` matches the schema of `type`: unknown keys at any depth (with the
 * closest known name), wrong types, class instances and linked constructs of the wrong kind,
 * malformed quantities, and props of another mode. `scope` is the construct, whose path the
 * message starts with. Returns `props`, or `{}` for none.
 */
export function validateProps<P extends object>(scope: Construct, type: PropsInterface, props: P | undefined): P {
  if (props !== undefined && props !== null && (typeof props !== 'object' || Array.isArray(props))) {
    throw new Error(`${scope.node.path}: props must be an object, got ${Array.isArray(props) ? 'an array' : typeof props}`);
  }
  const given = props ?? ({} as P);
  const validate = validatorOf(type);
  if (!validate(given)) throw new Error(`${scope.node.path}: ${describeError(mostTelling(validate.errors!))}`);
  return given;
}

/**
 * The error a user should read first: an unknown key, then a prop of another mode, then the one
 * deepest in the value (inside a union, the branch that came closest), a missing prop after a
 * wrong one at the same depth, and for a value no branch of a union takes, the union itself.
 */
function mostTelling(errors: ErrorObject[]): ErrorObject {
  const rank = (e: ErrorObject) => ['additionalProperties', 'onlyWhen'].indexOf(e.keyword) >>> 0;
  const depth = (e: ErrorObject) => e.instancePath.split('/').length + (e.keyword === 'required' ? 1 : 0);
  const order = (e: ErrorObject) => (e.keyword === 'anyOf' ? 0 : e.keyword === 'required' ? 2 : 1);
  return [...errors].sort((a, b) => rank(a) - rank(b) || depth(b) - depth(a) || order(a) - order(b))[0];
}

function describeError(error: ErrorObject): string {
  const at = propPath(error.instancePath);
  const schema = error.parentSchema as PropSchema;
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = (error.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys(resolve(schema).properties ?? {});
      const renamed = renamedProp(name, known);
      if (renamed) {
        return `'${joinPath(at, name)}' was renamed to '${joinPath(at, renamed.to)}' before 1.0${renamed.note ? ` (${renamed.note})` : ''}; see CHANGELOG.md, "Renamed and removed props"`;
      }
      const suggestion = closestName(name, known);
      return `unknown prop '${joinPath(at, name)}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}; known props: ${known.join(', ')}`;
    }
    case 'required': {
      const name = (error.params as { missingProperty: string }).missingProperty;
      const prop = resolve(schema).properties?.[name] ?? {};
      return `missing required prop '${joinPath(at, name)}'${prop.description ? `: ${prop.description.replace(/\.?$/, '.')}` : ''} It must be ${allowed(prop)}.`;
    }
    case 'onlyWhen': {
      const { modeProp, mode, modes, modeDoc, value } = error.params as { modeProp: string; mode: string; modes: string[]; modeDoc?: string; value: unknown };
      return `'${at}' (${formatValue(value)}) does not apply to ${modeProp} '${mode}': it is a prop of ${modeProp} ${orList(modes.map(m => `'${m}'`))}`
        + (modeDoc ? ` (${modeDoc.replace(/\.$/, '')})` : '');
    }
    default:
      return `'${at}' (${formatValue(error.data)}) must be ${allowed(schema)}`;
  }
}

/** `/probes/ready` as `probes.ready`, `/queues/0` as `queues[0]`. */
function propPath(pointer: string): string {
  return pointer.split('/').slice(1).map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, segment) => (/^[0-9]+$/.test(segment) ? `${path}[${segment}]` : joinPath(path, segment)), '');
}

function joinPath(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function resolve(schema: PropSchema): PropSchema {
  return schema.$ref ? resolve(DEFINITIONS[decodeURIComponent(schema.$ref.replace('#/definitions/', ''))]) : schema;
}

/** What a schema allows, in words: 'a Duration, e.g. Duration.seconds(30)', "one of 'a', 'b'", ... */
function allowed(node: PropSchema): string {
  const schema = resolve(node);
  if (schema.instanceof) return `${article(schema.instanceof)} ${schema.instanceof}${instanceExample(schema.instanceof, node.default)}`;
  if (schema.implements) {
    const { interface: name, classes } = schema.implements;
    return classes.length > 0 ? `${article(classes[0])} ${orList(classes)} (${article(name)} ${name})` : `${article(name)} ${name}`;
  }
  if (schema.anyOf) return orList(schema.anyOf.map(allowed));
  if (schema.enum) return `one of ${schema.enum.map(v => formatValue(v).replace(/^"(.*)"$/, '\'$1\'')).join(', ')}`;
  if (schema.const !== undefined) return formatValue(schema.const).replace(/^"(.*)"$/, '\'$1\'');
  if (schema.format === 'quantity') return 'a Kubernetes quantity greater than 0, e.g. \'250m\', \'1\', \'512Mi\', \'10Gi\'';
  return typeWords(schema);
}

function typeWords(schema: PropSchema): string {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? 'any'];
  return orList(types.map(type => {
    if (type === 'array') return `an array (each item ${schema.items ? allowed(schema.items) : 'any value'})`;
    if (type === 'object' && schema.properties) return `an object with the keys ${Object.keys(schema.properties).join(', ')}`;
    if (type === 'object' && typeof schema.additionalProperties === 'object') return `an object (each value ${allowed(schema.additionalProperties)})`;
    return { string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false', object: 'an object', null: 'null' }[type] ?? 'any value';
  }));
}

function instanceExample(className: string, documentedDefault: unknown): string {
  const example = { Duration: 'Duration.seconds(30)', Size: 'Size.mebibytes(64)' }[className];
  if (!example) return '';
  return `, e.g. ${typeof documentedDefault === 'string' && documentedDefault.startsWith(`${className}.`) ? documentedDefault : example}`;
}

function article(word: string): string {
  return /^[AEIOU]/i.test(word) ? 'an' : 'a';
}

function orList(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
