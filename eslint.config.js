import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'var/', 'coverage/', '.build-check-*/', 'console/dist/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', performance: 'readonly', fetch: 'readonly', AbortSignal: 'readonly' } },
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
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration from the Config object (src/config).' }],
    },
  },
  {
    // docs/design/hld.md §10: dependency direction. config imports nothing of ours; platform imports config only.
    files: ['src/config/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!../config/*'], message: 'config/ imports nothing of ours.' }] }] },
  },
  {
    files: ['src/platform/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/security/**', '**/modules/**', '**/audit/**', '**/fhir/**', '**/app.ts', '**/cli/**'], message: 'platform/ may import config/ only.' }] },
      ],
    },
  },
  {
    files: ['src/security/**/*.ts', 'src/audit/**/*.ts', 'src/fhir/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/modules/**', '**/app.ts', '**/cli/**'], message: 'Nothing imports upward.' }] }] },
  },
  {
    // The web console runs in the browser (issue 15); its build output (console/dist) is ignored above.
    files: ['console/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', crypto: 'readonly', btoa: 'readonly', sessionStorage: 'readonly', URLSearchParams: 'readonly', Headers: 'readonly', TextEncoder: 'readonly', HTMLElement: 'readonly', HTMLDivElement: 'readonly', Intl: 'readonly', RequestInit: 'readonly', Response: 'readonly' } },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.mjs', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
)
