// Generates lib/core/generated/prop-schemas.ts: one JSON Schema per exported `*Props` interface of
// lib/index.ts, from the TypeScript types themselves (ts-json-schema-generator), so a prop added to
// an interface is validated once `npm run schemas` has run again. test/prop-schemas.test.ts fails
// when the committed file differs from a fresh generation.
import { writeFileSync } from 'fs';
import * as path from 'path';
import {
  BaseType, CompletedConfig, createFormatter, createParser, createProgram, DEFAULT_CONFIG, Definition, SchemaGenerator, SubNodeParser, SubTypeFormatter,
} from 'ts-json-schema-generator';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
export const SCHEMAS_FILE = path.join(ROOT, 'lib/core/generated/prop-schemas.ts');

/**
 * A value that is an object of a class (cdk8s `Duration`, `Size`, a construct such as
 * `existingDatabase: db`), or any object with the members of an `I`-named interface (a construct
 * passed as a link, `database: db`). JSON Schema has no word for either: they become the custom
 * keywords `instanceof` and `implements` that lib/core/prop-validation.ts gives ajv.
 */
class InstanceType extends BaseType {
  constructor(readonly keyword: 'instanceof' | 'implements', readonly detail: string | InterfaceContract) {
    super();
  }

  getId(): string {
    return `${this.keyword}-${typeof this.detail === 'string' ? this.detail : this.detail.interface}`;
  }
}

/** The required members a value must have to stand for an `I`-named interface, and the classes of lib/ that do. */
interface InterfaceContract {
  readonly interface: string;
  readonly members: string[];
  readonly methods: string[];
  readonly classes: string[];
}

/** Turns class declarations and `I`-named interfaces (the jsii convention for construct contracts) into an {@link InstanceType}. */
class InstanceParser implements SubNodeParser {
  constructor(private readonly checker: ts.TypeChecker, private readonly classes: ts.ClassDeclaration[]) {}

  supportsNode(node: ts.Node): boolean {
    return ts.isClassDeclaration(node) || (ts.isInterfaceDeclaration(node) && /^I[A-Z]/.test(node.name.text));
  }

  createType(node: ts.Node): BaseType {
    if (ts.isClassDeclaration(node)) return new InstanceType('instanceof', node.name?.text ?? 'an object');
    const declaration = node as ts.InterfaceDeclaration;
    const type = this.checker.getTypeAtLocation(declaration);
    // Of IConstruct's members only `node` is checked: the others (`with`, in recent releases)
    // depend on the user's constructs release, which the peer range leaves open.
    const members = this.checker.getPropertiesOfType(type).filter(m => !(m.flags & ts.SymbolFlags.Optional))
      .filter(m => m.name === 'node' || !m.declarations?.every(d => /[\\/]node_modules[\\/]constructs[\\/]/.test(d.getSourceFile().fileName)));
    return new InstanceType('implements', {
      interface: declaration.name.text,
      members: members.map(m => m.name).sort(),
      methods: members.filter(m => m.declarations?.some(ts.isMethodSignature)).map(m => m.name).sort(),
      classes: this.classes.filter(c => this.checker.isTypeAssignableTo(this.checker.getTypeAtLocation(c), type)).map(c => c.name!.text),
    });
  }
}

class InstanceFormatter implements SubTypeFormatter {
  supportsType(type: BaseType): boolean {
    return type instanceof InstanceType;
  }

  getDefinition(type: InstanceType): Definition {
    return { [type.keyword]: type.detail } as Definition;
  }

  getChildren(): BaseType[] {
    return [];
  }
}

/** The exported declarations of lib/index.ts: the `*Props` interfaces to generate and the classes that may implement a link. */
function publicApi(program: ts.Program): { props: string[]; classes: ts.ClassDeclaration[] } {
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(path.join(ROOT, 'lib/index.ts'))!;
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(index)!)
    .map(symbol => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol));
  const declarations = exported.flatMap(symbol => symbol.declarations ?? []);
  return {
    props: declarations.filter(ts.isInterfaceDeclaration).map(d => d.name.text).filter(name => /Props$/.test(name)).sort(),
    classes: declarations.filter(ts.isClassDeclaration).filter(d => d.name !== undefined),
  };
}

/**
 * `@onlyWhen mode=cluster|sentinel` on a prop says which values of a sibling prop (the mode or
 * engine) it applies to. It moves to its object as `onlyWhen: { prop, default, props: { shards: [...] } }`,
 * so one keyword sees the mode and every prop of another mode at once.
 */
function hoistModeTags(schema: Definition): void {
  if (typeof schema !== 'object' || schema === null) return;
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
  const tagged = Object.entries(properties ?? {}).filter(([, p]) => typeof p.onlyWhen === 'string');
  if (tagged.length > 0) {
    const [modeProp] = (tagged[0][1].onlyWhen as string).split('=');
    const props = Object.fromEntries(tagged.map(([name, p]) => {
      const [prop, values] = (p.onlyWhen as string).split('=');
      if (prop !== modeProp) throw new Error(`${name}: every @onlyWhen of an interface must name the same prop ('${modeProp}')`);
      delete p.onlyWhen;
      return [name, values.split('|')];
    }));
    (schema as Record<string, unknown>).onlyWhen = { prop: modeProp, default: properties![modeProp].default, props };
  }
  for (const value of Object.values(schema)) {
    if (typeof value === 'object' && value !== null) {
      for (const child of Array.isArray(value) ? value : [value]) hoistModeTags(child as Definition);
    }
  }
}

/** Every `*Props` schema of lib/ in one document of `definitions`, and the names of the roots. */
export function generatePropSchemas(): { roots: string[]; definitions: Record<string, Definition> } {
  const config: CompletedConfig = {
    ...DEFAULT_CONFIG,
    path: path.join(ROOT, 'lib/index.ts'), tsconfig: path.join(ROOT, 'tsconfig.lib.json'), expose: 'export', topRef: true,
    jsDoc: 'extended', additionalProperties: false, skipTypeCheck: true, extraTags: ['onlyWhen'], sortProps: false,
  };
  const program = createProgram(config);
  const { props, classes } = publicApi(program);
  const parser = createParser(program, config, chain => chain.addNodeParser(new InstanceParser(program.getTypeChecker(), classes)));
  const formatter = createFormatter(config, chain => chain.addTypeFormatter(new InstanceFormatter()));
  const generator = new SchemaGenerator(program, parser, formatter, config);
  const definitions: Record<string, Definition> = {};
  for (const name of props) Object.assign(definitions, generator.createSchema(name).definitions);
  hoistModeTags(definitions);
  return { roots: props, definitions };
}

/** The module text: the schemas as a constant, and the root names as a type the validation helper takes. */
export function renderPropSchemasModule(): string {
  const { roots, definitions } = generatePropSchemas();
  return [
    '// Generated by `npm run schemas` (scripts/prop-schemas.ts) from the props interfaces of lib/. Do not edit.',
    '',
    '/** The name of a props interface that has a schema. */',
    `export type PropsInterface =\n${roots.map(r => `  | '${r}'`).join('\n')};`,
    '',
    '/** JSON Schemas (draft-07) of every props interface, with the keywords `instanceof`, `implements` and `onlyWhen`. */',
    `export const PROP_SCHEMAS = ${JSON.stringify({ definitions }, null, 2)};`,
    '',
  ].join('\n');
}

if (require.main === module) {
  try {
    writeFileSync(SCHEMAS_FILE, renderPropSchemasModule());
    console.warn(`wrote ${path.relative(ROOT, SCHEMAS_FILE)}`);
  } catch (error) {
    // The generator's own errors carry the whole source file; the message and the place are what helps.
    const { diagnostic } = error as { diagnostic?: ts.Diagnostic };
    const where = diagnostic?.file ? `${path.relative(ROOT, diagnostic.file.fileName)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}` : '';
    console.error(`npm run schemas: ${(error as Error).message} ${where}\n${(error as Error & { cause?: Error }).cause?.stack ?? ''}`);
    process.exitCode = 1;
  }
}
