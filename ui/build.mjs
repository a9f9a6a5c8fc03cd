// Builds the confirmation card into one self-contained HTML file (inline script and style, no
// network), and, on request, the browser test's host page.
//
//   node build.mjs                      -> ../lox24_mcp/mcp/ui/confirm_cancel.html
//   node build.mjs --test-host DIR      -> DIR/host.js (the AppBridge host used by tests/e2e)
//
// The card embeds a SHA-256 over its sources (this file, package.json, package-lock.json and
// card/*); tests/mcp/test_card_build.py recomputes it, so a stale committed card fails the suite.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, "..", "lox24_mcp", "mcp", "ui", "confirm_cancel.html");

export function sourceFiles() {
  const card = readdirSync(join(here, "card")).map((name) => `card/${name}`);
  return ["build.mjs", "package.json", "package-lock.json", ...card].sort();
}

export function sourceHash() {
  const hash = createHash("sha256");
  for (const name of sourceFiles()) {
    hash.update(name + "\0");
    hash.update(readFileSync(join(here, name)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

// zod (used by the ext-apps App for message schemas) re-exports all of its ~50 error-message
// locales; the card needs only English, which zod configures by default. This trims ~260 KB.
const englishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${"node_modules"}/zod/`) ? { path: join(dirname(args.importer), "..", "locales", "index.js"), namespace: "zod-locales" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), "en.js"))};`,
      resolveDir: dirname(args.path),
    }));
  },
};

async function bundle(entry) {
  const result = await build({
    plugins: [englishOnly],
    entryPoints: [join(here, entry)],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "none",
    charset: "utf8",
    write: false,
    logLevel: "warning",
  });
  return result.outputFiles[0].text;
}

async function buildCard() {
  const script = (await bundle("card/confirm-cancel.ts")).replace(/<\/(script)/gi, "<\\/$1");
  const template = readFileSync(join(here, "card", "confirm-cancel.html"), "utf8");
  const [before, after] = template.split("/*BUNDLE*/");
  if (after === undefined) throw new Error("card/confirm-cancel.html has no /*BUNDLE*/ placeholder");
  const stamp = `<!-- lox24-mcp confirmation card, built by scripts/build_ui.sh; sources sha256 ${sourceHash()} -->\n`;
  const html = before.replace("<!doctype html>\n", `<!doctype html>\n${stamp}`) + script.trim() + after;
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, html);
  console.log(`wrote ${OUT} (${html.length} bytes)`);
}

async function buildTestHost(dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "host.js"), await bundle("test-host/host.ts"));
}

const args = process.argv.slice(2);
if (args[0] === "--test-host") {
  await buildTestHost(args[1]);
} else if (args[0] === "--hash") {
  console.log(sourceHash());
} else {
  await buildCard();
}
