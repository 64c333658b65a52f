import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp, type GripChannelApp } from '#infrastructure/lib/app.js';

export const projectRoot = new URL('../../', import.meta.url);

/** `cdk.json`'s context (defaults and feature flags): what `cdk synth` starts from. */
export function cdkJsonContext(): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(new URL('cdk.json', projectRoot), 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || !('context' in parsed)) throw new Error('cdk.json has no context');
  const context = parsed.context;
  if (typeof context !== 'object' || context === null) throw new Error('cdk.json context is not an object');
  return { ...context };
}

export interface SynthOptions {
  /** Bundle the five functions with esbuild (slow); off → CDK's bundling skip, templates are otherwise identical. */
  readonly bundle?: boolean;
  /** CDK's built-in CloudFormation validation (the strict flag in cdk.json makes findings errors). */
  readonly cloudFormationValidation?: boolean;
}

export interface Synthesized extends GripChannelApp {
  readonly template: Template;
  /** The cloud assembly directory (bundled assets are in `asset.*`). */
  readonly outdir: string;
  /** Removes the temporary cloud assembly. */
  readonly dispose: () => void;
}

/**
 * Builds the app as `cdk synth` does (cdk.json context + `overrides`) into a temporary directory and returns the
 * stack's template. Synthesis also runs the cdk-nag plugin, so it throws on unacknowledged findings.
 */
export function synthesize(overrides: Record<string, unknown>, options: SynthOptions = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'grip-cdk-'));
  const context = { ...cdkJsonContext(), ...overrides, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) };
  const built = createApp({ context, outdir, builtinCloudFormationValidation: options.cloudFormationValidation ?? false }, {});
  const template = Template.fromStack(built.stack);
  return { ...built, template, outdir, dispose: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** A resource of the template whose logical id starts with `prefix` (exactly one must). */
export function resourceByPrefix(template: Template, type: string, prefix: string): { id: string; resource: CfnResourceJson } {
  const matches = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  if (matches.length !== 1)
    throw new Error(`expected one ${type} starting with ${prefix}, found ${matches.map(([id]) => id).join(', ') || 'none'}`);
  const [id, resource] = matches[0] as [string, CfnResourceJson];
  return { id, resource };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON is untyped; tests walk it.
export type CfnResourceJson = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };
