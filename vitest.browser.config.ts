import { defineConfig } from 'vitest/config';

// `npm run test:browser`: the chat page in headless Chromium (Debian's `chromium` on the PATH). Not part of `npm test`.
export default defineConfig({
  test: {
    include: ['tests/browser/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
