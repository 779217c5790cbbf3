// Builds the page's assets into ../assets/, which the crate embeds with
// include_str!: app.js (bundled TypeScript), app.css and index.html (the
// template). Run `npm ci && npm run build` here after changing src/ or
// index.html, and commit ../assets/. With `--check`, writes nothing and
// fails if the committed assets differ from what the sources build to.
import { build } from "esbuild";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "assets");
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "none",
  write: false,
});
let js = result.outputFiles[0].text;
// The script is inlined in a <script> element: it must not close it.
if (/<\/script/i.test(js)) js = js.replace(/<\/script/gi, "<\\/script");
const files = {
  "app.js": js,
  "app.css": readFileSync(join(here, "src", "style.css"), "utf8"),
  "index.html": readFileSync(join(here, "index.html"), "utf8"),
};
if (process.argv.includes("--check")) {
  const stale = Object.entries(files).filter(([name, text]) => {
    const path = join(out, name);
    return !existsSync(path) || readFileSync(path, "utf8") !== text;
  });
  if (stale.length > 0) {
    console.error(`stale assets: ${stale.map(([n]) => n).join(", ")}; run \`npm run build\` in ${here} and commit ../assets/`);
    process.exit(1);
  }
  console.log("assets: up to date");
} else {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text);
  console.log(`assets: ${Object.entries(files).map(([n, t]) => `${n} ${t.length} B`).join(", ")}`);
}
