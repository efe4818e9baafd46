/**
 * Every setting the bot reads (src/env.ts, the only reader of the environment) is documented for its users: named in
 * the README's settings table and in .env.example. A setting added without both fails here.
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../support/paths.js";

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

/** The keys of the settings schema, read from its source (each is a line `  NAME: …` inside `envSchema`). */
function settingNames(): string[] {
  const source = read("src/env.ts");
  const start = source.indexOf("const envSchema = z.object({");
  const end = source.indexOf("\n});", start);
  expect(start).toBeGreaterThan(-1);
  return [...source.slice(start, end).matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!);
}

describe("settings documentation", () => {
  const names = settingNames();
  const readme = read("README.md");
  const settingsTable = readme.slice(readme.indexOf("## Settings"));
  const example = read(".env.example");

  it("finds the settings", () => {
    expect(names).toEqual(expect.arrayContaining(["APP_ID", "WEBHOOK_SECRET", "RENDER_ISOLATION"]));
  });

  it("names every setting in the README's settings table", () => {
    expect(names.filter((n) => !new RegExp(`\`${n}\``).test(settingsTable))).toEqual([]);
  });

  it("names every setting in .env.example", () => {
    expect(names.filter((n) => !new RegExp(`^#?${n}=`, "m").test(example))).toEqual([]);
  });
});
