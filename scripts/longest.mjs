// The longest files and functions under a folder (default src/), in lines, read with the TypeScript compiler's parser.
// A function's length is its span from its first to its last line, nested functions included.
// Usage: node scripts/longest.mjs [dir] [count]
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const dir = process.argv[2] ?? "src";
const count = Number(process.argv[3] ?? 5);

function sourceFiles(d) {
  return readdirSync(d).flatMap((name) => {
    const full = path.join(d, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|mjs)$/.test(name) ? [full] : [];
  });
}

function nameOf(node, source) {
  if (node.name) return node.name.getText(source);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  return "(anonymous)";
}

const files = [];
const functions = [];
for (const file of sourceFiles(dir)) {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  files.push({ file, lines: source.getLineAndCharacterOfPosition(text.length).line + (text.endsWith("\n") ? 0 : 1) });
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      functions.push({ file, line: start + 1, name: nameOf(node, source), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

const top = (list) => list.sort((a, b) => b.lines - a.lines).slice(0, count);
console.log(`longest files in ${dir}/:`);
for (const f of top(files)) console.log(`  ${f.lines}\t${f.file}`);
console.log(`longest functions in ${dir}/:`);
for (const f of top(functions)) console.log(`  ${f.lines}\t${f.file}:${f.line} ${f.name}`);
