// Bundles the hook runtime into one self-contained file, dist/claude-mlflow-hook.mjs.
// `claude-mlflow hook --print-command` installs it into the data folder,
// so the hook keeps working when an npx cache is wiped.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/hook/entry.ts'],
  outfile: 'dist/claude-mlflow-hook.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});
