// Builds the client package `@grip-channel-server/client` into src/client/dist:
// - dist/index.js, dist/node.js (+ a shared chunk): ESM bundles of src/client with what it uses from src/domain
//   compiled in. The build fails if anything outside src/ would be bundled or imported at run time: the package
//   has no runtime dependencies.
// - dist/types/**.d.ts: the declarations tsc emits for the two entry points, and only the files they reach. The
//   build fails if a declaration imports a package (node:* only from the Node adapter's).
// Run by `npm run build:client`, by `npm run pack:client`, and as the package's `prepare` script.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const clientDir = join(root, 'src', 'client');
const defaultDir = join(clientDir, 'dist');
const entries = { index: join(clientDir, 'index.ts'), node: join(clientDir, 'node.ts') };

/**
 * Builds the package into `into` (default src/client/dist); resolves with the files written, relative to it.
 * The build goes to a folder of its own first and is moved into place whole, so two builds at once (parallel
 * test files, an `npm ci` next to a pack) never mix their files.
 */
export async function buildClient(into = defaultDir) {
  const outDir = `${into}.building-${process.pid}`;
  await rm(outDir, { recursive: true, force: true });
  try {
    const files = [...(await bundle(outDir)), ...(await declarations(outDir))].map((file) => relative(outDir, file)).sort();
    for (let attempt = 0; ; attempt++) {
      await rm(into, { recursive: true, force: true });
      try {
        await rename(outDir, into);
        return files;
      } catch (error) {
        // Another build moved its folder in between: replace it (both hold the same files).
        if (attempt >= 5 || !['ENOTEMPTY', 'EEXIST'].includes(error.code)) throw error;
      }
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

async function bundle(outDir) {
  const result = await build({
    entryPoints: entries,
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    chunkNames: 'shared-[hash]',
    charset: 'utf8',
    metafile: true,
    logLevel: 'error',
    absWorkingDir: root,
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    if (!resolve(root, input).startsWith(join(root, 'src') + '/'))
      throw new Error(`client bundle would include ${input}: only src/ may be compiled in`);
  }
  const written = [];
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    const bare = output.imports.filter((i) => i.external === true);
    if (bare.length > 0)
      throw new Error(`${file} imports ${bare.map((i) => i.path).join(', ')}: the client package has no runtime dependencies`);
    written.push(resolve(root, file));
  }
  return written;
}

async function declarations(outDir) {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: fail },
  );
  if (!config) throw new Error('cannot read tsconfig.json');
  const options = {
    ...config.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    rootDir: join(root, 'src'),
    outDir: join(outDir, 'types'),
  };
  const program = ts.createProgram(Object.values(entries), options);
  const emitted = new Map();
  const result = program.emit(undefined, (file, text) => emitted.set(resolve(file), text), undefined, true);
  // Keep only the declarations the two entry points reach.
  const typesDir = join(outDir, 'types');
  const keep = new Map();
  const visit = (file, fromNodeAdapter) => {
    if (keep.has(file)) return;
    const text = emitted.get(file);
    if (text === undefined) throw new Error(`no declaration emitted for ${relative(root, file)}`);
    keep.set(file, text);
    for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.d.ts')), fromNodeAdapter);
      else if (!(fromNodeAdapter && specifier.startsWith('node:'))) {
        throw new Error(`${relative(typesDir, file)} imports "${specifier}": the client's types must not need another package`);
      }
    }
  };
  visit(join(typesDir, 'client', 'index.d.ts'), false);
  visit(join(typesDir, 'client', 'node.d.ts'), true);

  // Errors count in the files whose declarations ship. The server modules the client only imports types from
  // may not type-check in a git install (`prepare` there has the client's devDependencies, not the server's).
  const shipped = new Set([...keep.keys()].map((file) => join(root, 'src', relative(typesDir, file)).replace(/\.d\.ts$/, '.ts')));
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter(
    (d) => d.file === undefined || shipped.has(resolve(d.file.fileName)),
  );
  if (diagnostics.length > 0) fail(diagnostics);
  for (const [file, text] of keep) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
  }
  return [...keep.keys()];
}

function fail(diagnostics) {
  const list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  throw new Error(`type errors in the client:\n${ts.formatDiagnostics(list, host)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const files = await buildClient();
  console.log(`built @grip-channel-server/client: ${files.length} files in ${relative(root, defaultDir)}`);
}
