// ESLint (flat config) with typescript-eslint's recommended rules, and the import
// directions of DESIGN.md section 1 as rules a machine checks.
'use strict';
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

/** no-restricted-imports patterns: `group` globs of import paths, and why. */
const forbid = (...rules) => ({ 'no-restricted-imports': ['error', { patterns: rules.map(([group, message]) => ({ group, message })) }] });
const THREADS = [['node:worker_threads', 'worker_threads', 'piscina', 'comlink', 'comlink/*'], 'the domain knows nothing of threads (DESIGN.md section 1): hand CPU work to the host through the loop'];

/**
 * DESIGN.md 7: nothing outside the source and transport modules knows which seedbox it is. A comparison
 * with a kind (`client === 'putio'`, `case 'local':`) elsewhere is a question to ask the source instead
 * (sources/traits.ts, or the DownloadClient's own methods).
 */
const KIND = '/^(putio|local|deluge|qbittorrent|rtorrent|transmission)$/';
const KIND_MESSAGE = 'ask the source (sources/traits.ts or the DownloadClient) instead of comparing seedbox kinds outside src/transfers/{clients,sources,transports,config} (DESIGN.md 7)';
const noKindComparisons = {
  'no-restricted-syntax': ['error',
    { selector: `BinaryExpression[operator=/^[!=]==?$/] > Literal[value=${KIND}]`, message: KIND_MESSAGE },
    { selector: `SwitchCase > Literal.test[value=${KIND}]`, message: KIND_MESSAGE },
  ],
};

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...require('globals').node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Remote names are checked for control characters on purpose (hostile File Names, DESIGN.md 5).
      'no-control-regex': 'off',
    },
  },
  { files: ['**/*.js', '**/*.cjs'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
  { files: ['src/transfers/**/*.ts'], rules: forbid(THREADS, [['**/supervisor/**', '**/supervisor', '**/loop/**', '**/loop', '**/http/**', '**/workers/**'], 'src/transfers is the domain: it imports no runtime, supervisor, ops server or worker']) },
  {
    files: ['src/**/*.ts', 'workers/**/*.ts'],
    ignores: ['src/transfers/clients/**', 'src/transfers/sources/**', 'src/transfers/transports/**', 'src/transfers/config/**'],
    rules: noKindComparisons,
  },
  { files: ['src/supervisor/**/*.ts'], rules: forbid([['**/transfers/**', '**/http/**', '**/workers/**', '**/loop/define', '**/loop/runner', '**/loop/worker-*'], 'the supervisor knows nothing of transfers: it imports only src/loop/protocol and src/log']) },
  { files: ['src/loop/**/*.ts'], rules: forbid([['**/supervisor/**', '**/supervisor', '**/transfers/**', '**/http/**', '**/workers/**'], 'the loop runtime runs in workers: it imports no supervisor, domain or ops server code']) },
  { files: ['workers/**/*.ts'], rules: forbid([['**/src/supervisor/**', '**/src/supervisor', '**/src/http/**'], 'workers wire the domain (src/transfers) to the loop runtime (src/loop); the supervisor and the ops server are main-thread code']) },
);
