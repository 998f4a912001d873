// Bundles the hook runtime into two self-contained files:
// - dist/claude-mlflow-hook.mjs, the hook Claude Code runs: small, so that it
//   starts fast (no OpenTelemetry code);
// - dist/claude-mlflow-deliver.mjs, the detached delivery process it starts.
// `claude-mlflow hook --print-command` installs both into the data folder,
// so the hook keeps working when an npx cache is wiped.
// And dist/adapters/process.js (tsc's output replaced) with execa inside it:
// execa's 150 modules take about 80 ms of CPU to load one by one, a third of
// that as one file. It stays lazy (evaluated when the first child is run), so
// doctor's probes still start before anything heavy has loaded.
import { build } from 'esbuild';

const runtimes = [
  ['src/hook/entry.ts', 'dist/claude-mlflow-hook.mjs'],
  ['src/services/delivery/entry.ts', 'dist/claude-mlflow-deliver.mjs'],
  ['src/adapters/process.ts', 'dist/adapters/process.js'],
];

for (const [entry, outfile] of runtimes)
  await build({
    entryPoints: [entry],
    outfile,
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
