// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Node modules that do I/O: pure modules must not import them. */
const IO_MODULES = [
  'node:net',
  'node:tls',
  'node:http',
  'node:https',
  'node:http2',
  'node:dns',
  'node:dgram',
  'node:child_process',
  'node:worker_threads',
  'node:cluster',
  'node:fs',
  'node:fs/promises',
  'node:process',
];

const PURE_MODULES = ['errors', 'sources', 'text', 'config', 'policy', 'catalog', 'clients', 'advisor'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/fixtures/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      eqeqeq: ['error', 'always'],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']",
          message: 'process.exit belongs to src/cli/main.ts only.',
        },
      ],
    },
  },
  {
    files: [`src/{${PURE_MODULES.join(',')}}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.map((name) => ({
            name,
            message: 'pure modules take data and return data: no I/O imports.',
          })),
          patterns: [
            {
              group: ['**/gateway/**', '**/cli/**', '**/observe/**'],
              message: 'pure modules do not depend on sockets or the CLI.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'pure modules do not touch the process.' },
        'console',
      ],
    },
  },
  {
    files: ['src/policy/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.map((name) => ({ name, message: 'the policy engine is pure.' })),
          patterns: [
            {
              group: ['**/config/**', '**/catalog/**', '**/gateway/**', '**/cli/**', '**/observe/**'],
              message: 'policy depends on errors only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/gateway/**/*.ts', 'src/admin/**/*.ts', 'src/observe/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/supervisor/**', '**/cli/**'],
              message: 'the gateway, admin and observe modules never reach up to the supervisor or the CLI.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/config/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.map((name) => ({ name, message: 'configuration parsing is pure.' })),
          patterns: [
            {
              group: ['**/catalog/*', '!**/catalog/index.js'],
              message: 'config uses the catalog through its index only.',
            },
            {
              group: ['**/gateway/**', '**/cli/**', '**/observe/**', '**/supervisor/**'],
              message: 'pure modules do not depend on sockets or the CLI.',
            },
          ],
        },
      ],
    },
  },
  {
    // The dashboard runs in a browser; it is bundled by web/build.mjs (the bundle, under dist/, is not linted).
    files: ['web/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/*/**', '!**/src/admin/units.js'],
              message: 'the dashboard talks to the gateway through the admin API only, not its modules.',
            },
          ],
        },
      ],
    },
  },
  {
    // CommonJS packages are loaded with require (src/deps/README.md): an ES import of one starts
    // Node.js's CommonJS lexer, megabytes of resident memory in every gateway process.
    files: ['src/**/*.ts'],
    ignores: ['src/deps/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['commander', 'ipaddr.js', 'pino', 'prom-client', 'sonic-boom', 'yaml'].map((name) => ({
            name,
            message: `${name} is CommonJS: import it (values and types) from src/deps/.`,
          })),
        },
      ],
    },
  },
  {
    files: ['src/cli/main.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
      'no-restricted-syntax': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
