// Lint: the recommended and type-checked rules (typescript-eslint's recommendedTypeChecked);
// formatting is Prettier's job. Rules turned off below say why, per scope.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'schema/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        performance: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-empty': ['error', { allowEmptyCatch: true }],
      // node:test's test() and describe() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      // Error messages print whatever bad value they were given, objects included.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    // Every command is `(argv) => Promise<number>`, loaded lazily by cli/main.ts, whether or
    // not it awaits anything.
    files: ['src/cli/commands/**'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    // Tests append stream chunks to strings (`out += b`, Buffer's toString meant), read the
    // CLI's JSON output as `any` and assert its shape, and print values in assertion messages.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  {
    // bin/cordon-oci.cjs is CommonJS so that Node never starts its ESM loader (start-up).
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', __filename: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
)
