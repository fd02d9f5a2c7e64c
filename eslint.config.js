import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// ADR-0030: handlers take request types from their schemas (the TypeBox type provider); a hand cast
// of request.body, query or params would let the schema and the handler drift apart again.
const REQUEST_CASTS = [
  'TSAsExpression > MemberExpression.expression[object.name=/^(request|req)$/][property.name=/^(body|query|params)$/]',
  'TSTypeAssertion > MemberExpression.expression[object.name=/^(request|req)$/][property.name=/^(body|query|params)$/]',
].map((selector) => ({
  selector,
  message:
    'Type the route from its schema (RoutePlugin, platform/http/typed-routes.ts) instead of casting request.body/query/params (ADR-0030).',
}))

// ADR-0030: SQL only in repositories. A call of `.query(` (generic or not) outside a repository file
// (repository.ts, <name>.repository.ts) and the database platform (src/platform/db) is an error.
const SQL_OUTSIDE_REPOSITORY = {
  selector: "CallExpression[callee.type='MemberExpression'][callee.property.name='query']",
  message:
    'SQL belongs in a repository.ts (or <name>.repository.ts) of the module that owns the table; call the repository (ADR-0030).',
}
// Unit tests beside the code may read the rows they check.
const REPOSITORY_FILES = [
  'src/**/repository.ts',
  'src/**/*.repository.ts',
  'src/platform/db/**',
  'src/**/*.test.ts',
]
// Every SQL statement of src/ has moved into a repository (issue 14): the rule above is an error
// in every file outside REPOSITORY_FILES, with no allowlist.

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'var/',
      'coverage/',
      '.build-check-*/',
      'console/dist/',
      'test-results/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
  {
    // docs/design/conventions.md C5: configuration is parsed once; nothing else reads the environment.
    files: ['src/**/*.ts'],
    ignores: ['src/config/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration from the Config object (src/config).',
        },
      ],
      'no-restricted-syntax': ['error', ...REQUEST_CASTS, SQL_OUTSIDE_REPOSITORY],
    },
  },
  {
    files: REPOSITORY_FILES,
    rules: { 'no-restricted-syntax': ['error', ...REQUEST_CASTS] },
  },
  {
    // docs/design/hld.md §10: dependency direction. config imports nothing of ours; platform imports config only.
    files: ['src/config/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../*', '!../config/*'], message: 'config/ imports nothing of ours.' }] },
      ],
    },
  },
  {
    files: ['src/platform/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/security/**',
                '**/modules/**',
                '**/audit/**',
                '**/fhir-format/**',
                '**/modules/fhir/**',
                '**/app.ts',
                '**/cli/**',
              ],
              message: 'platform/ may import config/ only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/security/**/*.ts', 'src/audit/**/*.ts', 'src/fhir-format/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/modules/**', '**/app.ts', '**/cli/**'], message: 'Nothing imports upward.' },
          ],
        },
      ],
    },
  },
  {
    // ADR-0030: modules meet only through index.ts. A file of one module imports another module's
    // index.ts (or the shared context.ts), never a file inside it.
    files: ['src/modules/**/*.ts'],
    ignores: ['src/**/*.test.ts', 'src/modules/context.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!context\\.ts$)[^./][^/]*/(?!index\\.ts$)',
              message: 'Import another module through its index.ts, never a file inside it (ADR-0030).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\./|\\.\\./)modules/(?!context\\.ts$)[^/]+/(?!index\\.ts$)',
              message: 'Import a module through its index.ts, never a file inside it (ADR-0030).',
            },
          ],
        },
      ],
    },
  },
  {
    // The web console runs in the browser (issue 15); its build output (console/dist) is ignored above.
    files: ['console/src/**/*.{ts,tsx}'],
    languageOptions: {
      globals: {
        window: 'readonly',
        document: 'readonly',
        crypto: 'readonly',
        btoa: 'readonly',
        sessionStorage: 'readonly',
        URLSearchParams: 'readonly',
        Headers: 'readonly',
        TextEncoder: 'readonly',
        HTMLElement: 'readonly',
        HTMLDivElement: 'readonly',
        Intl: 'readonly',
        RequestInit: 'readonly',
        Response: 'readonly',
      },
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.mjs', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
)
