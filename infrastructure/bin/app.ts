#!/usr/bin/env node
/** The CDK app; `cdk.json` runs it with tsx. A configuration error prints one clear line and exits 1. */
import { SettingError } from '#src/config/settings.js';
import { createCliApp } from '../lib/app.js';

try {
  createCliApp({}, process.env).synth();
} catch (e) {
  if (!(e instanceof SettingError)) throw e;
  console.error(`Configuration error: ${e.message}`);
  process.exitCode = 1;
}
