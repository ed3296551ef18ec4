// Assemble the FHIR package cache SUSHI reads (<home>/.fhir/packages/<name>#<version>/package/) from the
// npm packages pinned in package.json, so a build never asks packages.fhir.org for anything.
//
//   node tools/sushi/assemble-cache.mjs <home>
//
// hl7.fhir.r4.core has no published npm version; its content is published twice by HL7 (CC0):
// hl7.fhir.r4.corexml (the core file list, in XML) and hl7.fhir.r4.examples (the same conformance
// resources in JSON).  For every X.xml of corexml we take X.json from the examples package; the three
// StructureDefinitions that exist only as XML are converted with the `fhir` package.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fhir } from 'fhir';

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, 'node_modules');
const home = resolve(process.argv[2] ?? join(here, '.home'));
const packages = join(home, '.fhir', 'packages');

function packageDir(name, version) {
  const dir = join(packages, `${name}#${version}`, 'package');
  rmSync(dirname(dir), { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  return dir;
}

function assembleCore() {
  const xmlDir = join(modules, 'hl7.fhir.r4.corexml');
  const jsonDir = join(modules, 'hl7.fhir.r4.examples');
  const out = packageDir('hl7.fhir.r4.core', '4.0.1');
  mkdirSync(out);
  const fhir = new Fhir();
  let converted = 0;
  let copied = 0;
  for (const file of readdirSync(xmlDir)) {
    if (!file.endsWith('.xml')) continue;
    const json = file.replace(/\.xml$/, '.json');
    if (existsSync(join(jsonDir, json))) {
      cpSync(join(jsonDir, json), join(out, json));
      copied++;
    } else {
      const resource = fhir.xmlToObj(readFileSync(join(xmlDir, file), 'utf8'));
      writeFileSync(join(out, json), JSON.stringify(resource, null, 2));
      converted++;
    }
  }
  const manifest = JSON.parse(readFileSync(join(xmlDir, 'package.json'), 'utf8'));
  manifest.name = 'hl7.fhir.r4.core';
  writeFileSync(join(out, 'package.json'), JSON.stringify(manifest, null, 2));
  console.log(`hl7.fhir.r4.core#4.0.1: ${copied} JSON files, ${converted} converted from XML`);
}

function linkPackage(name) {
  const src = join(modules, name);
  const { version } = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  symlinkSync(src, packageDir(name, version), 'dir');
  console.log(`${name}#${version}: linked`);
}

mkdirSync(packages, { recursive: true });
assembleCore();
for (const name of ['hl7.fhir.us.mcode', 'hl7.terminology.r4', 'hl7.fhir.uv.extensions.r4']) linkPackage(name);
