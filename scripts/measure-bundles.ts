// npx tsx scripts/measure-bundles.ts [--runs 21]
//
// Measures the two ways of shipping the AWS SDK to Lambda that README.md, "Deploy to AWS", "Bundling" compares:
// - "bundled": every @aws-sdk/* and @smithy/* module the handler uses is inlined and tree-shaken into its bundle;
// - "external": @aws-sdk/* is left out (the Lambda runtime's own SDK would be imported at run time).
// For each Lambda entry it builds both variants with the stack's esbuild options (infrastructure/lib/
// handler-function.ts, `lambdaBuildOptions`), reports the size of index.mjs and its source map (raw and gzipped, as
// the deployment zip compresses them), and a cold-start proxy: a fresh `node --enable-source-maps` process (as
// the functions run) importing the bundle, timed from before `import()` until the module graph has loaded and the
// handler's top-level initialisation stops at its first missing environment variable (before any network call).
// The external variant resolves @aws-sdk/* from this repository's node_modules, as the runtime resolves its own.
// Runs alternate between the variants so drift on a shared machine hits both alike; medians over --runs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { lambdaBuildOptions, lambdaEntries, type HandlerName } from '#infrastructure/lib/handler-function.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '21' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 3) throw new Error('--runs must be an integer ≥ 3');

const variants = { bundled: [] as string[], external: ['@aws-sdk/*'] } as const;
type Variant = keyof typeof variants;
const outRoot = join(process.cwd(), '.lambda-bundles', 'measure');

async function buildVariant(variant: Variant): Promise<void> {
  await build(lambdaBuildOptions(join(outRoot, variant), variants[variant]));
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
function sizes(variant: Variant, entry: HandlerName) {
  const file = join(outRoot, variant, `${entry}.mjs`);
  const code = readFileSync(file);
  const map = readFileSync(`${file}.map`);
  return { code: statSync(file).size, map: map.length, gzipped: gzipSync(code).length + gzipSync(map).length };
}

/** One cold import in a fresh process: milliseconds from `import()` to the handler's top-level code giving up. */
function coldImport(variant: Variant, entry: HandlerName): number {
  const url = pathToFileURL(join(outRoot, variant, `${entry}.mjs`)).href;
  const program = `const t = performance.now(); try { await import(${JSON.stringify(url)}); } catch {} console.log(performance.now() - t);`;
  // Only PATH: no AWS_* variables, so every entry stops at its first required variable, before any network call.
  const out = spawnSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', program], {
    env: { PATH: process.env['PATH'] ?? '' },
    encoding: 'utf8',
  });
  const ms = Number(out.stdout.trim().split('\n').at(-1));
  if (!Number.isFinite(ms)) throw new Error(`${variant}/${entry}: no timing (${out.stderr.slice(0, 300)})`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

rmSync(outRoot, { recursive: true, force: true });
mkdirSync(outRoot, { recursive: true });
await buildVariant('bundled');
await buildVariant('external');

console.log(`node ${process.version}, ${runs} cold imports per bundle and variant, alternating\n`);
console.log(
  '| Entry | bundled: index.mjs / map / zipped | external: index.mjs / map / zipped | cold import median, bundled | external | bundled ÷ external |',
);
console.log('|---|---|---|---|---|---|');
for (const entry of lambdaEntries) {
  const times: Record<Variant, number[]> = { bundled: [], external: [] };
  for (let i = 0; i < runs; i++) {
    const order: Variant[] = i % 2 === 0 ? ['bundled', 'external'] : ['external', 'bundled'];
    for (const v of order) times[v].push(coldImport(v, entry));
  }
  const b = sizes('bundled', entry);
  const x = sizes('external', entry);
  const mb = median(times.bundled);
  const mx = median(times.external);
  console.log(
    `| ${entry} | ${kb(b.code)} / ${kb(b.map)} / ${kb(b.gzipped)} | ${kb(x.code)} / ${kb(x.map)} / ${kb(x.gzipped)} | ` +
      `${mb.toFixed(1)} ms | ${mx.toFixed(1)} ms | ${(mb / mx).toFixed(2)} |`,
  );
}
rmSync(outRoot, { recursive: true, force: true });
