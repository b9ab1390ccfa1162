// ESLint (typescript-eslint, type-checked): src/ and test/ under the strict rule set; bench/ is checked by tsc.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'build/',
      'native/build/',
      'node_modules/',
      'test-output/',
      'bench/',
      'scripts/',
      'eslint.config.js',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // `() => handler()` is how callbacks read; a void result in a shorthand arrow misleads nobody.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // A parameter an interface makes every implementation take, unused by this one, starts with "_".
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Protocol code matches control bytes on purpose (RFC 9110 field values, RFC 3875 CGI headers, logs).
      'no-control-regex': 'off',
      // Template literals with numbers are the norm in headers and logs.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // node:test's test()/describe()/it() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      // A test may assert a shape, then use it; a wrong `!` fails the test loudly. src/ allows none.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // assert.ok()/assert.equal() narrow types; the guards that follow them read better than casts.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Tests hand hostile values to the addon on purpose (objects, unbound functions) and name them in messages;
      // execFile's callback errors are Errors already.
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
);
