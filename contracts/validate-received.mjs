// Validates what the integration tests received — every stream event, error body and ready
// callback of the worker tests; every worker list, health body, narration record and orchestrator
// message of the pool tests — against contracts/openapi.yaml, and holds the Actor/Action enums equal to
// src/narration/vocabulary.hpp. Usage: node validate-received.mjs RECEIVED.jsonl
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import { parse } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const spec = parse(readFileSync(join(here, "openapi.yaml"), "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: "openapi", components: spec.components });
const validators = {
  event: ajv.getSchema("openapi#/components/schemas/StreamEvent"),
  error: ajv.getSchema("openapi#/components/schemas/ErrorBody"),
  ready_callback: ajv.getSchema("openapi#/components/schemas/WorkerReady"),
  worker: ajv.getSchema("openapi#/components/schemas/Worker"),
  worker_list: ajv.getSchema("openapi#/components/schemas/WorkerList"),
  pool_health: ajv.getSchema("openapi#/components/schemas/PoolHealth"),
  orchestrator_health: ajv.getSchema("openapi#/components/schemas/OrchestratorHealth"),
  narration_record: ajv.getSchema("openapi#/components/schemas/NarrationRecord"),
  pool_registration: ajv.getSchema("openapi#/components/schemas/PoolRegistration"),
  pool_heartbeat: ajv.getSchema("openapi#/components/schemas/PoolHeartbeat"),
  task_created: ajv.getSchema("openapi#/components/schemas/TaskCreated"),
  task: ajv.getSchema("openapi#/components/schemas/Task"),
  task_list: ajv.getSchema("openapi#/components/schemas/TaskList"),
  pool_list: ajv.getSchema("openapi#/components/schemas/PoolList"),
};

let failures = 0;
const fail = (message) => {
  failures += 1;
  console.error(`FAIL ${message}`);
};

// The vocabulary: string constants inside `namespace actor {` and `namespace action {`.
const vocabulary = readFileSync(join(here, "..", "src", "narration", "vocabulary.hpp"), "utf8");
for (const [ns, schema] of [["actor", "Actor"], ["action", "Action"]]) {
  const block = vocabulary.match(new RegExp(`namespace ${ns} \\{([\\s\\S]*?)\\}`))[1];
  const code = [...block.matchAll(/= "([^"]+)"/g)].map((m) => m[1]).sort();
  const contract = [...spec.components.schemas[schema].enum].sort();
  if (JSON.stringify(code) !== JSON.stringify(contract)) {
    fail(`${schema} enum differs from vocabulary.hpp:\n  code:     ${code}\n  contract: ${contract}`);
  }
}

const file = process.argv[2];
const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
const counts = {};
for (const line of lines) {
  const { kind, value } = JSON.parse(line);
  const validate = validators[kind];
  if (!validate) {
    fail(`unknown kind ${kind}`);
    continue;
  }
  counts[kind] = (counts[kind] ?? 0) + 1;
  if (!validate(value)) fail(`${kind} ${JSON.stringify(value)}\n  ${ajv.errorsText(validate.errors)}`);
}
for (const kind of Object.keys(validators)) {
  if (!counts[kind]) fail(`nothing of kind ${kind} was received: the integration tests did not run?`);
}
console.log(`validated ${lines.length} received values (${JSON.stringify(counts)}): ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
