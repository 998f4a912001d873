/**
 * The layer rule of docs/architecture.md, over the import graph of src/:
 * each layer imports only the layers below it, features never import each
 * other, and core does no I/O. Every static `import … from`, `export … from`
 * and dynamic `import('…')` counts, `import type` too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Top first. Features share one rank: they sit side by side and never import each other. */
const FEATURES = ['init', 'doctor', 'status', 'cleanup', 'migrate', 'server', 'hook'];
const RANK: Record<string, number> = { cli: 6, commands: 5, feature: 4, services: 3, adapters: 2, core: 1, base: 0 };
/** src/*.ts: the entry point on top; the rest (config.ts, errors.ts) at the bottom, below core. */
const TOP_LEVEL: Record<string, string> = { 'cli.ts': 'cli', 'config.ts': 'base', 'errors.ts': 'base' };
const LAYER_FOLDERS = ['commands', 'services', 'adapters', 'core'];
/** Node modules (and packages) that reach outside the process: core may import none of them. */
const IO_MODULES = ['fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'http2', 'dgram', 'tls', 'dns', 'readline', 'execa'];
/** Every child process starts in the one process runner: only it may import these. */
const PROCESS_MODULES = ['child_process', 'execa'];
const PROCESS_RUNNER = 'adapters/process.ts';

interface Layer {
  /** `feature:doctor`, `services`, … */
  name: string;
  rank: number;
}

interface Edge {
  /** src-relative paths, with `/`. */
  from: string;
  to: string;
}

function layerOf(file: string): Layer | undefined {
  const [top, ...rest] = file.split('/');
  if (rest.length === 0) {
    const layer = TOP_LEVEL[top!];
    return layer ? { name: layer, rank: RANK[layer]! } : undefined;
  }
  if (FEATURES.includes(top!)) return { name: `feature:${top}`, rank: RANK.feature! };
  return LAYER_FOLDERS.includes(top!) ? { name: top!, rank: RANK[top!]! } : undefined;
}

/** An import that goes up a layer, or sideways from one feature to another. */
function layerViolations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = layerOf(from);
    const b = layerOf(to);
    if (!a || !b) {
      out.push(`${from} -> ${to} (not in any layer: place it in docs/architecture.md and here)`);
    } else if (a.name !== b.name && b.rank >= a.rank) {
      out.push(`${from} -> ${to} (${a.name} may not import ${b.name})`);
    }
  }
  return out;
}

/** Every module a source text imports: static imports, re-exports and dynamic import() calls. */
function importedSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

function sourceFiles(): string[] {
  return (readdirSync(SRC, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => f.endsWith('.ts'))
    .sort();
}

function importGraph(): { edges: Edge[]; external: Edge[] } {
  const edges: Edge[] = [];
  const external: Edge[] = [];
  for (const from of sourceFiles()) {
    for (const spec of importedSpecifiers(readFileSync(path.join(SRC, from), 'utf8'))) {
      if (!spec.startsWith('.')) {
        external.push({ from, to: spec.replace(/^node:/, '') });
        continue;
      }
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, '.ts');
      edges.push({ from, to: target });
    }
  }
  return { edges, external };
}

describe('the layer rule (docs/architecture.md)', () => {
  const { edges, external } = importGraph();

  it('every file of src/ is in a layer', () => {
    const unplaced = sourceFiles().filter((f) => !layerOf(f));
    expect(unplaced).toEqual([]);
  });

  it('no import goes up a layer or sideways between features', () => {
    const violations = layerViolations(edges);
    console.log(
      `architecture: ${violations.length} imports go up a layer or sideways between features (of ${edges.length} imports in src/)`,
    );
    for (const v of violations) console.log(`  ${v}`);
    expect(edges.length).toBeGreaterThan(100);
    expect(violations).toEqual([]);
  });

  it('core does no I/O: it imports no fs, child_process, network or execa', () => {
    const io = external.filter((e) => e.from.startsWith('core/') && IO_MODULES.includes(e.to)).map((e) => `${e.from} -> ${e.to}`);
    console.log(`architecture: ${io.length} I/O imports in core/`);
    for (const v of io) console.log(`  ${v}`);
    expect(io).toEqual([]);
  });

  it('every child process starts in adapters/process.ts: no other file imports child_process or execa', () => {
    const runners = external.filter((e) => PROCESS_MODULES.includes(e.to) && e.from !== PROCESS_RUNNER).map((e) => `${e.from} -> ${e.to}`);
    console.log(`architecture: ${runners.length} imports of child_process or execa outside ${PROCESS_RUNNER}`);
    for (const v of runners) console.log(`  ${v}`);
    expect(external.some((e) => e.from === PROCESS_RUNNER && e.to === 'execa')).toBe(true);
    expect(runners).toEqual([]);
  });
});

describe('the import-graph check itself', () => {
  it('finds static imports, re-exports, type imports and dynamic import()', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "export { c } from './c.js';",
      "export * from './d.js';",
      "const e = await import('./e.js');",
      "import './f.js';",
    ].join('\n');
    expect(importedSpecifiers(text)).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js', './f.js']);
  });

  it('catches an import up a layer and one between features; allows imports down and within a feature', () => {
    const fake: Edge[] = [
      { from: 'commands/doctor.ts', to: 'doctor/run-doctor.ts' },
      { from: 'doctor/facts.ts', to: 'doctor/proc.ts' },
      { from: 'doctor/facts.ts', to: 'services/local-server.ts' },
      { from: 'services/local-server.ts', to: 'services/delivery/launch.ts' },
      { from: 'core/checks/registry.ts', to: 'config.ts' },
      { from: 'adapters/service/schedule.ts', to: 'cleanup/target.ts' },
      { from: 'status/collect.ts', to: 'doctor/facts.ts' },
      { from: 'core/mask.ts', to: 'adapters/http.ts' },
      { from: 'errors.ts', to: 'cli.ts' },
      { from: 'somewhere/new.ts', to: 'core/mask.ts' },
    ];
    expect(layerViolations(fake)).toEqual([
      'adapters/service/schedule.ts -> cleanup/target.ts (adapters may not import feature:cleanup)',
      'status/collect.ts -> doctor/facts.ts (feature:status may not import feature:doctor)',
      'core/mask.ts -> adapters/http.ts (core may not import adapters)',
      'errors.ts -> cli.ts (base may not import cli)',
      'somewhere/new.ts -> core/mask.ts (not in any layer: place it in docs/architecture.md and here)',
    ]);
  });
});
