/**
 * Lists the longest functions in lib/ and service/src/, measured with the TypeScript compiler API
 * (lines from a function's first to its last line), so the refactoring limits of issue 14 can be
 * checked: constructors at most 40 lines, other functions at most 60.
 *
 *   npx ts-node --transpile-only scripts/function-lengths.ts [--min 40] [--check]
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

export interface FunctionLength {
  readonly file: string;
  readonly name: string;
  readonly lines: number;
  readonly isConstructor: boolean;
  /** A function whose whole body is one template literal: a renderer that may stay long. */
  readonly isTemplate: boolean;
}

export const CONSTRUCTOR_LIMIT = 40;
export const FUNCTION_LIMIT = 60;

export function measureFunctions(roots: readonly string[]): FunctionLength[] {
  return roots.flatMap(listTypeScriptFiles).flatMap(measureFile);
}

function listTypeScriptFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'imports' ? [] : listTypeScriptFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function measureFile(file: string): FunctionLength[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({
        file,
        name: functionName(node),
        lines: end - start + 1,
        isConstructor: ts.isConstructorDeclaration(node),
        isTemplate: isOneTemplateLiteral(node.body as ts.Node),
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function functionName(node: ts.SignatureDeclaration): string {
  if (ts.isConstructorDeclaration(node)) {
    const owner = node.parent as ts.ClassDeclaration;
    return `${owner.name?.text ?? '(class)'} constructor`;
  }
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (ts.isVariableDeclaration(node.parent) && ts.isIdentifier(node.parent.name)) return node.parent.name.text;
  return '(anonymous)';
}

function isOneTemplateLiteral(body: ts.Node): boolean {
  if (ts.isTemplateExpression(body) || ts.isNoSubstitutionTemplateLiteral(body)) return true;
  if (!ts.isBlock(body) || body.statements.length !== 1) return false;
  const only = body.statements[0];
  return ts.isReturnStatement(only) && !!only.expression
    && (ts.isTemplateExpression(only.expression) || ts.isNoSubstitutionTemplateLiteral(only.expression));
}

export function overLimit(fn: FunctionLength): boolean {
  if (fn.isConstructor) return fn.lines > CONSTRUCTOR_LIMIT;
  return fn.lines > FUNCTION_LIMIT && !fn.isTemplate;
}

function main(): void {
  const args = process.argv.slice(2);
  const minIndex = args.indexOf('--min');
  const min = minIndex >= 0 ? Number(args[minIndex + 1]) : 40;
  const all = measureFunctions(['lib', 'service/src']).sort((a, b) => b.lines - a.lines);
  for (const fn of all.filter((f) => f.lines >= min)) {
    const flag = overLimit(fn) ? ' OVER' : '';
    process.stdout.write(`${String(fn.lines).padStart(4)}  ${fn.name}  ${fn.file}${fn.isTemplate ? ' (template)' : ''}${flag}\n`);
  }
  if (args.includes('--check') && all.some(overLimit)) process.exitCode = 1;
}

if (require.main === module) main();
