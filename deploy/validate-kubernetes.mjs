// Validates every document of deploy/kubernetes/*.yaml against the Kubernetes API's schemas
// (kubernetes-models, offline: no cluster needed). Usage: node validate-kubernetes.mjs
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
let failures = 0;
let checked = 0;
for (const file of readdirSync(join(here, "kubernetes")).filter((f) => f.endsWith(".yaml"))) {
  for (const document of parseAllDocuments(readFileSync(join(here, "kubernetes", file), "utf8"))) {
    if (document.errors.length) {
      console.error(`FAIL ${file}: ${document.errors.map((e) => e.message).join("; ")}`);
      failures++;
      continue;
    }
    const object = document.toJS();
    const where = `${file}: ${object.kind} ${object.metadata?.name}`;
    // apps/v1 → kubernetes-models/apps/v1/Kind, v1 → kubernetes-models/v1/Kind
    let Model;
    try {
      const module = require(`kubernetes-models/${object.apiVersion}/${object.kind}`);
      Model = module[object.kind];
    } catch {
      console.error(`FAIL ${where}: no schema for ${object.apiVersion} ${object.kind}`);
      failures++;
      continue;
    }
    try {
      new Model(object).validate();
      checked++;
    } catch (e) {
      console.error(`FAIL ${where}: ${e.message}`);
      failures++;
    }
  }
}
console.log(`deploy/kubernetes: ${checked} objects valid, ${failures} failed`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
