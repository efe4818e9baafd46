/**
 * The layout's rules, checked on the real import graph of src/ (every `import`, `export … from` and `import()`,
 * type-only ones included, read with the TypeScript compiler's own pre-processor):
 * - no import cycles;
 * - imports run one way: doors (handlers, server, wiring, CLI) → intake → preview → cluster | data | github | chat |
 *   registry | jobs → shared (and metrics) → config, env, logger, actions. The domains (and the job infrastructure) never import
 *   each other;
 * - src/services/ keeps only a handful of loose files;
 * - a file over 300 lines says why at its top (a line containing "Longer than 300 lines").
 * docs/architecture.md explains the layers.
 */
import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const SRC = path.join(ROOT, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith(".ts") ? [full] : [];
  });
}

const files = sourceFiles(SRC).map((f) => path.relative(ROOT, f));

/** Relative imports of a file, resolved to repository paths (`.js` specifiers name `.ts` sources). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(path.join(ROOT, file), "utf8"), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, ".ts"));
}

const graph = new Map(files.map((f) => [f, importsOf(f)]));

type Layer = { rank: number; group: string };

/** The layer of a source file; higher ranks may import lower ones. */
export function layerOf(file: string): Layer {
  const rel = file.replace(/^src\//, "");
  if (/^(config|env|logger|redaction|actions|yaml-error-line)\.ts$/.test(rel)) return { rank: 0, group: "base" };
  if (rel === "services/metrics.ts" || rel.startsWith("services/shared/")) return { rank: 1, group: "shared" };
  const domain = /^services\/(cluster|data|github|chat|registry|jobs)\//.exec(rel)?.[1];
  if (domain) return { rank: 2, group: domain };
  if (rel.startsWith("services/preview/")) return { rank: 3, group: "preview" };
  if (rel.startsWith("intake/")) return { rank: 4, group: "intake" };
  return { rank: 5, group: "doors" };
}

describe("the import graph of src/", () => {
  it("has every import resolving to a source file (so the checks below see the whole graph)", () => {
    const dangling = [...graph].flatMap(([from, tos]) =>
      tos.filter((to) => !graph.has(to)).map((to) => `${from} → ${to}`),
    );
    expect(dangling).toEqual([]);
  });

  it("has no cycles", () => {
    // Tarjan's strongly connected components: any component of two or more files (or a self-import) is a cycle.
    let index = 0;
    const indexOf = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string): void => {
      indexOf.set(v, index);
      low.set(v, index++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!indexOf.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
      if (low.get(v) === indexOf.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
      }
    };
    for (const f of graph.keys()) if (!indexOf.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it("runs one way: doors → intake → preview → cluster | data | github | chat | jobs → shared → base", () => {
    const wrong: string[] = [];
    for (const [from, tos] of graph) {
      const a = layerOf(from);
      for (const to of tos) {
        const b = layerOf(to);
        const sameGroup = a.group === b.group;
        if (b.rank > a.rank || (b.rank === a.rank && !sameGroup))
          wrong.push(`${from} (${a.group}) imports ${to} (${b.group})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("keeps the layering check honest: a domain importing a sibling or a higher layer is caught", () => {
    expect(layerOf("src/services/github/reporter.ts")).toEqual({ rank: 2, group: "github" });
    expect(layerOf("src/services/registry/registry-client.ts")).toEqual({ rank: 2, group: "registry" });
    expect(layerOf("src/services/chat/notifier.ts").rank).toBeLessThan(layerOf("src/services/preview/runner.ts").rank);
    expect(layerOf("src/services/jobs/queue.ts").rank).toBeLessThan(layerOf("src/services/preview/runner.ts").rank);
    expect(layerOf("src/services/jobs/queue.ts")).not.toEqual(layerOf("src/services/github/reads.ts"));
    expect(layerOf("src/services/preview/runner.ts").rank).toBeLessThan(layerOf("src/intake/parse.ts").rank);
    expect(layerOf("src/intake/parse.ts").rank).toBeLessThan(layerOf("src/handlers/slack.ts").rank);
  });
});

describe("the layout of src/services/", () => {
  it("keeps only a handful of loose files; the domain folders hold the rest", () => {
    const loose = readdirSync(path.join(SRC, "services")).filter((n) => n.endsWith(".ts"));
    expect(loose.length).toBeLessThanOrEqual(3);
  });

  it("has files of at most ~300 lines, unless the file says at its top why it is longer", () => {
    const unexplained = files.filter((f) => {
      const text = readFileSync(path.join(ROOT, f), "utf8");
      const lines = text.split("\n").length;
      const header = text.slice(0, text.indexOf("*/") + 2);
      return lines > 320 && !header.includes("Longer than 300 lines");
    });
    expect(unexplained).toEqual([]);
  });
});
