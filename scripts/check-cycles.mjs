// Import cycles in src/, type-only imports included: eslint's import-x/no-cycle skips `import type`,
// yet a cycle of types still ties two layers together. Prints each cycle and exits 1 if there is one.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

// The folder to check: src/ of this repository, or the one given (the unit test plants a cycle in a temp folder).
const root = join(dirname(new URL(import.meta.url).pathname), '..');
const src = process.argv[2] ?? join(root, 'src');
const files = readdirSync(src, { recursive: true, encoding: 'utf8' })
  .filter((name) => name.endsWith('.ts'))
  .map((name) => join(src, name));
const known = new Set(files);

// `import ... from './x.js'`, `export ... from './x.js'`, `import('./x.js')`: relative specifiers only.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** The src/ files a file imports, by path. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const found = new Set();
  for (const [, specifier] of text.matchAll(SPECIFIER)) {
    const target = normalize(join(dirname(file), specifier)).replace(/\.js$/, '.ts');
    if (known.has(target)) found.add(target);
  }
  return [...found];
}

const graph = new Map(files.map((file) => [file, importsOf(file)]));

// Tarjan's strongly connected components: a component of more than one file (or a file importing itself) is a cycle.
let index = 0;
const order = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function visit(file) {
  order.set(file, index);
  low.set(file, index);
  index += 1;
  stack.push(file);
  onStack.add(file);
  for (const next of graph.get(file)) {
    if (!order.has(next)) {
      visit(next);
      low.set(file, Math.min(low.get(file), low.get(next)));
    } else if (onStack.has(next)) {
      low.set(file, Math.min(low.get(file), order.get(next)));
    }
  }
  if (low.get(file) !== order.get(file)) return;
  const component = [];
  let member;
  do {
    member = stack.pop();
    onStack.delete(member);
    component.push(member);
  } while (member !== file);
  if (component.length > 1 || graph.get(file).includes(file)) cycles.push(component);
}
for (const file of files) if (!order.has(file)) visit(file);

for (const component of cycles) {
  console.error(
    `import cycle (type-only imports count): ${component
      .map((file) => relative(root, file))
      .sort()
      .join(' <-> ')}`,
  );
}
if (cycles.length > 0) {
  console.error('fix: move what both sides need into the lower layer (see the layers in eslint.config.js)');
  process.exit(1);
}
console.log(`no import cycles among ${files.length} files of ${relative(root, src) || '.'}`);
