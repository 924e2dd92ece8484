// The README's reference tables, checked against the code: an option, variable, command, exit code,
// error code or results field added, renamed or removed in one place and not the other fails here.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { OPTION_NAMES } from '../../src/plugin.js';
import { packageRoot } from '../../src/host/paths.js';

const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
const errorsSource = readFileSync(join(packageRoot, 'src/errors.ts'), 'utf8');
/** The codes of the VirtbenchErrorCode union. */
const ERROR_CODES = [.../export type VirtbenchErrorCode =([^;]*);/.exec(errorsSource)![1]!.matchAll(/'(VIRTBENCH_\w+)'/g)].map(
  (m) => m[1]!,
);

/** The rows of the table under a heading, as cells of text ("`a`, `b`" stays one cell). */
function tableUnder(heading: string): string[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README has no heading "${heading}"`).toBeGreaterThan(0);
  const rest = readme.slice(start + heading.length + 2);
  const lines = rest.split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  // The header row, then the separator, then rows until the first line that is not a row.
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** The `code` spans of a cell: "`a`, `b`" -> ["a", "b"]. */
const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

const sourceFiles = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(dir, name));

describe('README.md', () => {
  it('is a manual of at most about 350 lines', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(350);
  });

  it('lists every option of virtbench() and nothing else', () => {
    const listed = tableUnder('### Options of `virtbench({...})`').map((row) => codeSpans(row[0]!)[0]);
    expect([...listed].sort()).toEqual([...OPTION_NAMES].sort());
  });

  it('lists every environment variable the package reads, and nothing else', () => {
    const codes = new Set(ERROR_CODES);
    const read = new Set(
      sourceFiles(join(packageRoot, 'src')).flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/\bVIRTBENCH_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]).filter((name) => !codes.has(name)),
      ),
    );
    const listed = tableUnder('### Environment variables').map((row) => codeSpans(row[0]!)[0]);
    expect([...listed].sort()).toEqual([...read].sort());
  });

  it('lists every command of the virtbench CLI, and its exit codes', async () => {
    const lines: string[] = [];
    await runCli(['help'], { log: (line: string) => lines.push(line), error: () => {} } as never);
    const usage = lines.join('\n');
    const commands = new Set([...usage.matchAll(/^\s*virtbench (\w+)/gm)].map((m) => m[1]));
    const listed = tableUnder('### The `virtbench` command').map((row) => codeSpans(row[0]!)[0]);
    expect([...listed].sort()).toEqual([...commands].sort());
    // The usage's own line on exit codes names the same codes as the README's table (130: interrupted).
    const named = new Set([...usage.slice(usage.indexOf('Exit codes:')).matchAll(/\b(\d+) /g)].map((m) => m[1]));
    const after = readme.slice(readme.indexOf('| exit code |')).split('\n').slice(2);
    const rows = after
      .slice(
        0,
        after.findIndex((line) => !line.startsWith('|')),
      )
      .map((line) => line.split('|')[1]!.trim());
    expect(rows).toEqual(['0', '1', '2', '130']);
    for (const code of named) expect(rows).toContain(code);
  });

  it('lists every error code', () => {
    const listed = tableUnder('### Error codes').map((row) => codeSpans(row[0]!)[0]);
    expect([...listed].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('describes every field of results.json, and no field it lacks', () => {
    // The fields as the schema's TypeScript declares them: results.json is written from these types.
    const file = join(packageRoot, 'src/results/schema.ts');
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2023, true);
    const members = (name: string) => {
      const declaration = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
      return declaration!.members.filter(ts.isPropertySignature);
    };
    const fields: string[] = [];
    for (const member of members('ResultsFile')) {
      const name = member.name.getText(source);
      if (name === 'environment' && member.type && ts.isTypeLiteralNode(member.type)) {
        for (const inner of member.type.members) fields.push(`environment.${inner.name!.getText(source)}`);
      } else if (name !== 'results') fields.push(name);
    }
    for (const member of members('BenchmarkResult')) {
      const name = member.name.getText(source);
      if (name !== 'samples') fields.push(`results[].${name}`);
    }
    for (const member of members('Sample')) fields.push(`results[].samples[].${member.name.getText(source)}`);

    // "results[].error, .skipReason" is two fields; "results[]" and "results[].samples[]" introduce the lists.
    const described = tableUnder('### results.json (`virtbench.results/v1`)').flatMap((row) => {
      const [first, ...more] = codeSpans(row[0]!)[0]!.split(', ');
      const prefix = first!.slice(0, first!.lastIndexOf('.'));
      return [first!, ...more.map((m) => prefix + m)];
    });
    expect(described.filter((f) => !f.endsWith('[]')).sort()).toEqual(fields.sort());
  });

  it('links only to files and headings that exist, as do the docs', () => {
    const docs = ['README.md', 'CONTRIBUTING.md', ...readdirSync(join(packageRoot, 'docs')).map((f) => `docs/${f}`)];
    // GitHub's anchors: the heading in lower case, without punctuation, spaces as hyphens.
    const slug = (heading: string) =>
      heading
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-');
    const anchorsOf = (file: string) =>
      new Set([...readFileSync(join(packageRoot, file), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!)));
    const broken: string[] = [];
    for (const doc of docs) {
      const text = readFileSync(join(packageRoot, doc), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split('#');
        const file = path ? join(dirname(doc), path) : doc;
        if (!existsSync(join(packageRoot, file))) broken.push(`${doc}: ${target} (no file)`);
        else if (anchor && file.endsWith('.md') && !anchorsOf(file).has(anchor)) broken.push(`${doc}: ${target} (no heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('docs/ci.md', () => {
  it("lists the action's inputs, with their defaults, and its outputs", () => {
    const action = parse(readFileSync(join(packageRoot, 'action.yml'), 'utf8')) as {
      inputs: Record<string, { default?: string }>;
      outputs: Record<string, unknown>;
    };
    const doc = readFileSync(join(packageRoot, 'docs/ci.md'), 'utf8');
    const rowsAfter = (header: string) => {
      const after = doc.slice(doc.indexOf(header)).split('\n').slice(2);
      return after
        .slice(
          0,
          after.findIndex((line) => !line.startsWith('|')),
        )
        .map((line) => line.split(' | ').map((c) => c.replace(/^\| ?|`/g, '').trim()));
    };
    const inputs = rowsAfter('| input | default | meaning |');
    expect(inputs.map(([name]) => name)).toEqual(Object.keys(action.inputs));
    for (const [name, documented] of inputs) expect(documented, name).toBe(action.inputs[name!]!.default ?? '');
    expect(rowsAfter('| output | meaning |').map(([name]) => name)).toEqual(Object.keys(action.outputs));
  });
});
