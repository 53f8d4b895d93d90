import stylistic from '@stylistic/eslint-plugin';
import importPlugin from 'eslint-plugin-import';
import jest from 'eslint-plugin-jest';
import { readFileSync } from 'fs';
import tseslint from 'typescript-eslint';

// What git ignores is built or local state, never source: .local/ holds the bench's compared build
// (its service/dist/ JavaScript), which `npm test` would otherwise lint after a bench run.
const GIT_IGNORED = readFileSync(new URL('.gitignore', import.meta.url), 'utf8')
  .split('\n').map(line => line.trim()).filter(line => line !== '' && !line.startsWith('#'));

// Each family folder of lib/ imports only core/ (and the generated imports/) besides itself; core/
// imports nothing above it. topology.ts, index.ts and testing/ may import the families.
const FAMILIES = ['api', 'workers', 'redis', 'postgres', 'load-balancer', 'observability', 'secrets', 'cluster'];
const LAYER_ZONES = [
  { target: './lib/core', from: './lib', except: ['./core', './imports'], message: 'core/ imports nothing above it.' },
  ...FAMILIES.map(family => ({
    target: `./lib/${family}`, from: './lib', except: ['./core', './imports', `./${family}`],
    message: 'A family imports only core/ and its own folder; what two families share belongs in core/.',
  })),
];

export default tseslint.config(
  { ignores: [...GIT_IGNORED, 'dist/', 'lib/imports/', 'lib/core/generated/', 'test/fixtures/', '*.js', '*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@stylistic': stylistic, import: importPlugin },
    rules: {
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true }],
      '@stylistic/semi': ['error', 'always'],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/indent': ['error', 2],
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/eol-last': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import/order': ['error', {
        groups: ['builtin', 'external', 'internal', 'parent', 'sibling', 'index'],
        alphabetize: { order: 'asc', caseInsensitive: true },
      }],
      'import/no-duplicates': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  // CommonJS scripts that npm runs before anything is built (scripts/postinstall.cjs).
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    files: ['test/**/*.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      // Helpers named expect* (and waitFor, which throws on timeout) are assertions.
      'jest/expect-expect': ['warn', { assertFunctionNames: ['expect', 'expect*', '*.expect*', 'waitFor'] }],
    },
  },
  {
    // Shared assertions (e.g. LocalStackTest.expectDatabaseAgrees) call expect outside a test block by design.
    files: ['test/support/**/*.ts'],
    rules: { 'jest/no-standalone-expect': 'off' },
  },
  {
    files: ['lib/**/*.ts'],
    settings: {
      'import/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import/resolver': { node: { extensions: ['.ts', '.js'] } },
    },
    rules: {
      'import/no-cycle': 'error',
      'import/no-restricted-paths': ['error', { zones: LAYER_ZONES }],
      // import/no-cycle skips `import type`, so lib/ has none: a cycle of types is a cycle too.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'no-type-imports' }],
    },
  },
);
