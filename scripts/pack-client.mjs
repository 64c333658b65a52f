// `npm run pack:client`: builds @grip-channel-server/client and writes its tarball to dist/ (gitignored), then
// prints the tarball's absolute path as the last line, so scripts can take it with `| tail -n 1`.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildClient } from './build-client.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const clientDir = join(root, 'src', 'client');
const destination = join(root, 'dist');
const staging = join(destination, `client-package-${process.pid}`);

// Packed from a staging copy whose package.json has no scripts and no devDependencies: `prepare` builds from this
// repository's sources, which a tarball does not carry, and npm would list it as an install script to approve.
await rm(staging, { recursive: true, force: true });
await mkdir(staging, { recursive: true });
const manifest = JSON.parse(await readFile(join(clientDir, 'package.json'), 'utf8'));
delete manifest.scripts;
delete manifest.devDependencies;
await writeFile(join(staging, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
await cp(join(clientDir, 'README.md'), join(staging, 'README.md'));
await buildClient(join(staging, 'dist'));
const { stdout } = await promisify(execFile)('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', staging], {
  cwd: staging,
});
const [packed] = JSON.parse(stdout);
if (!packed) throw new Error(`npm pack printed no result: ${stdout}`);
// Moved into place whole, so a concurrent pack never leaves a half-written tarball.
await rename(join(staging, packed.filename), join(destination, packed.filename));
await rm(staging, { recursive: true, force: true });
console.log(`${packed.name}@${packed.version}: ${packed.entryCount} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);
for (const file of packed.files) console.log(`  ${file.path} (${file.size} bytes)`);
console.log(join(destination, packed.filename));
