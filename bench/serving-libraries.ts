/**
 * The third-party packages a serving gateway loads at start-up, and how it loads each: found by
 * following the static imports of the built code from its entry points. A reference process that
 * loads only these (the same way, none of the gateway's own code) shows how much of the gateway's
 * idle memory the libraries account for.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface LibraryLoad {
  /** The specifier as the code names it: a package or a package's subpath. */
  readonly specifier: string;
  /** `import` (an ES module import) or `require` (through `createRequire`, see src/deps). */
  readonly via: 'import' | 'require';
}

// `import … from 'x'`, `import 'x'`, `export … from 'x'` at the start of a line (the compiler
// writes one statement per line; a multi-line import list stays within the quotes-free part).
const STATIC = /^[ \t]*(?:import|export)\s+(?:[^'";]*?\sfrom\s*)?['"]([^'"\n]+)['"]/gm;
// `createRequire(import.meta.url)('x')`, the form src/deps uses.
const REQUIRED = /createRequire\([^)]*\)\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** The package a bare specifier names: `zod/mini` → `zod`, `@scope/pkg/sub` → `@scope/pkg`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Every bare specifier reached from `entries` through static relative imports, kept when its
 * package is one of `dependencies` (built-in modules and anything else are left out). Dynamic
 * `import()` is not followed: what a command loads lazily is not loaded at start-up.
 */
export function libraryLoads(entries: readonly string[], dependencies: readonly string[]): LibraryLoad[] {
  const wanted = new Set(dependencies);
  const seen = new Set<string>();
  const found = new Map<string, LibraryLoad>();
  const queue = entries.map((e) => resolve(e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    const note = (specifier: string, via: LibraryLoad['via']): void => {
      if (specifier.startsWith('.')) {
        const next = resolve(dirname(file), specifier);
        if (existsSync(next)) queue.push(next);
      } else if (wanted.has(packageOf(specifier)) && !found.has(`${via} ${specifier}`)) {
        found.set(`${via} ${specifier}`, { specifier, via });
      }
    };
    for (const m of text.matchAll(STATIC)) note(m[1]!, 'import');
    for (const m of text.matchAll(REQUIRED)) note(m[1]!, 'require');
  }
  return [...found.values()].sort(
    (a, b) => a.specifier.localeCompare(b.specifier) || a.via.localeCompare(b.via),
  );
}

/** An ES module's source that loads `loads` the way the gateway does, then idles. */
export function referenceScript(loads: readonly LibraryLoad[]): string {
  const lines = [
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
  ];
  for (const l of loads)
    lines.push(
      l.via === 'import'
        ? `await import(${JSON.stringify(l.specifier)});`
        : `require(${JSON.stringify(l.specifier)});`,
    );
  lines.push('setInterval(() => {}, 2 ** 30);');
  return `${lines.join('\n')}\n`;
}
