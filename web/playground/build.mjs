// Builds the self-contained GraphiQL playground served by LoginSign at /playground.
//
//   cd web/playground && npm ci && npm run build
//
// Output (committed): internal/web/playground/assets/{graphiql.js,graphiql.css,index.html}
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '..', '..', 'internal', 'web', 'playground', 'assets');

// graphql-ws is an optional, lazily imported dependency of @graphiql/toolkit
// that is only used when a subscriptionUrl is configured. We don't configure
// one, so replace it with a stub instead of leaving a bare import in the bundle.
const stubGraphQLWS = {
  name: 'stub-graphql-ws',
  setup(b) {
    b.onResolve({ filter: /^graphql-ws$/ }, () => ({ path: 'graphql-ws', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        'export function createClient() { throw new Error("websocket subscriptions are not supported by this playground"); }',
      loader: 'js',
    }));
  },
};

await mkdir(outdir, { recursive: true });
for (const f of await readdir(outdir)) {
  await rm(join(outdir, f), { recursive: true, force: true });
}

const result = await build({
  absWorkingDir: here,
  entryPoints: { graphiql: 'main.jsx' },
  outdir,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  jsx: 'automatic',
  loader: { '.woff2': 'dataurl', '.woff': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [stubGraphQLWS],
  metafile: true,
  logLevel: 'info',
});

// The assets are served with a one-year immutable Cache-Control, so the page
// references them with a content hash in the query string to bust caches
// whenever the bundle changes.
const hash = async (name) =>
  createHash('sha256').update(await readFile(join(outdir, name))).digest('hex').slice(0, 16);
const html = (await readFile(join(here, 'index.html'), 'utf8'))
  .replace('__JS_HASH__', await hash('graphiql.js'))
  .replace('__CSS_HASH__', await hash('graphiql.css'));
// __CSP_NONCE__ stays: the Go handler replaces it per request (see playground.go).
if (html.split('__CSP_NONCE__').length !== 2) {
  throw new Error('index.html must contain __CSP_NONCE__ exactly once');
}
await writeFile(join(outdir, 'index.html'), html);

const outputs = Object.entries(result.metafile.outputs).map(([f, o]) => `${f}\t${o.bytes} bytes`);
console.log(outputs.join('\n'));
