// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Packages that tie code to AWS or to Lambda: forbidden in the pure domain and in the backend client. */
const awsPatterns = ['@aws-sdk/*', '@smithy/*', 'aws-lambda', 'aws-cdk-lib', 'aws-cdk-lib/*', '@aws-lambda-powertools/*'];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '**/dist/**',
      '**/dist.building-*/**',
      'cdk.out/**',
      'coverage/**',
      '.bench/**',
      '.pushpin/**',
      '.lambda-bundles/**',
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
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: awsPatterns, message: 'src/domain is pure: no AWS SDK, Lambda types or CDK. Put this in an adapter.' },
            {
              group: ['node:*', 'ws', 'dynalite', 'fauxqs', 'undici'],
              message: 'src/domain is pure: no I/O modules. Inject a port instead.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/domain must not read process or process.env: config is passed in.' },
        { name: 'fetch', message: 'src/domain does no network I/O.' },
      ],
    },
  },
  {
    files: ['src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: awsPatterns, message: 'src/client is for backends: Web standards only, no AWS dependencies.' },
            {
              group: ['../adapters/*', '../handlers/*', '../local/*', '../config/*'],
              message: 'src/client may depend on src/domain only.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'src/client must not read process.env: take options instead.' }],
    },
  },
);
