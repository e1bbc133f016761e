#!/usr/bin/env node
// Finds request schemas that Prism cannot compile.
// Prism wraps ajv.compile() in O.tryCatch (prism-http/dist/validator/validators/utils.js),
// so a schema that fails to compile is *silently not validated* -- any body passes.
// This script loads a spec exactly like `prism mock` does (getHttpOperationsFromSpec),
// then compiles every request body / param schema with Prism's ajv options and
// reports the failures.
// Usage: node tools/prism_schema_check.js SPEC [SPEC...]
const path = require('path');
// The project's own node_modules (npm ci at the repository root).
const NM = path.join(__dirname, '..', '..', '..', 'node_modules');
const { getHttpOperationsFromSpec } = require(path.join(NM, '@stoplight/prism-http'));
const Ajv = require(path.join(NM, 'ajv')).default;
const Ajv2019 = require(path.join(NM, 'ajv/dist/2019')).default;
const Ajv2020 = require(path.join(NM, 'ajv/dist/2020')).default;
const addFormats = require(path.join(NM, 'ajv-formats')).default;

const opts = { allErrors: true, allowUnionTypes: true, allowMatchingProperties: true, strict: false,
               logger: { warn() {}, log() {}, error() {} } };
function ajvFor(schema) {
  const s = String(schema.$schema || '');
  const A = /2019-09/.test(s) ? Ajv2019 : /2020-12/.test(s) ? Ajv2020 : Ajv;
  const a = new A(opts); addFormats(a); return a;
}

(async () => {
  let bad = 0;
  for (const spec of process.argv.slice(2)) {
    const ops = await getHttpOperationsFromSpec(path.resolve(spec));
    console.log(`# ${spec}: ${ops.length} operations`);
    for (const op of ops) {
      const bundle = op.__bundled__;
      const targets = [];
      for (const c of (op.request && op.request.body && op.request.body.contents) || [])
        if (c.schema) targets.push([`body ${c.mediaType}`, c.schema]);
      for (const kind of ['query', 'headers', 'path'])
        for (const p of (op.request && op.request[kind]) || [])
          if (p.schema) targets.push([`${kind} ${p.name}`, p.schema]);
      for (const [label, schema] of targets) {
        try { ajvFor(schema).compile({ ...schema, __bundled__: bundle }); }
        catch (e) { bad++; console.log(`  SKIPPED-BY-PRISM ${op.method.toUpperCase()} ${op.path} [${label}]: ${e.message.slice(0, 160)}`); }
      }
    }
  }
  console.log(bad ? `${bad} schema(s) Prism will silently NOT validate` : 'all request schemas compile');
})().catch(e => { console.error(e); process.exit(2); });
