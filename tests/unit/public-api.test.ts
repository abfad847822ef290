/**
 * The package's public surface is deliberate: every name exported by its
 * entry points (`gradstorm`, `gradstorm/node`) carries TSDoc, so a consumer's
 * editor explains it. A new export without a doc comment fails here, naming it.
 * And the browser entry reaches no Dawn: without the Node entry, acquireGpu()
 * in Node says which import it lacks.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
// Deliberately not src/node.ts: this file runs the engine as a browser bundle would load it.
import { acquireGpu } from '../../src/gpu/acquire.ts';
import { GpuUnavailableError } from '../../src/gpu/errors.ts';

const root = join(import.meta.dirname, '..', '..');
const ENTRY_POINTS = { gradstorm: 'src/index.ts', 'gradstorm/node': 'src/node.ts', 'gradstorm/puppeteer': 'src/puppeteer.ts' } as const;

describe('public API', () => {
  const program = ts.createProgram(
    Object.values(ENTRY_POINTS).map((entry) => join(root, entry)),
    {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      allowImportingTsExtensions: true,
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      types: ['@webgpu/types', 'node'],
    },
  );
  const checker = program.getTypeChecker();

  it.each(Object.entries(ENTRY_POINTS))('every export of %s has a doc comment', (_name, entry) => {
    const source = program.getSourceFile(join(root, entry));
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    expect(moduleSymbol, entry).toBeDefined();
    const exports = checker.getExportsOfModule(moduleSymbol!);
    expect(exports.length).toBeGreaterThan(2);
    const undocumented = exports
      .filter((symbol) => {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        return ts.displayPartsToString(target.getDocumentationComment(checker)).trim() === '';
      })
      .map((symbol) => symbol.name);
    expect(undocumented).toEqual([]);
  });

  it("acquireGpu() in Node without the Node entry throws GpuUnavailableError naming 'gradstorm/node'", async () => {
    const attempt = acquireGpu();
    await expect(attempt).rejects.toBeInstanceOf(GpuUnavailableError);
    await expect(attempt).rejects.toThrow(/import 'gradstorm\/node' once before acquireGpu\(\)/);
  });
});
