// Answers checked against a kirana's own OpenAPI document (GET /openapi.json).
//
// For each answer: the operation is found by method and path template (a
// literal segment beats a {param}); its response by status, then `4XX`-style
// ranges, then `default`; the content type must be one the response lists
// (compared without parameters when no exact key matches); a JSON body must
// match the schema (Ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses it, with
// formats); a response without content must have an empty body. Answers of
// operations the document does not describe (routes of test fixtures marked
// x-kirana-undescribed, 404s of unknown paths, HEAD, OPTIONS preflights) are
// not checked.
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const addFormats = addFormatsModule.default ?? addFormatsModule;
const DOC_ID = 'kirana-openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const pointerPart = (s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1');
const essence = (ct) => String(ct || '').split(';')[0].trim().toLowerCase();
const isJson = (ct) => /^application\/(.+\+)?json$/.test(essence(ct));

/** Finds the path template of doc.paths that `path` (no query) matches best. */
export function matchPath(paths, path) {
  const segs = path.split('/');
  let best = null;
  let bestLiterals = -1;
  for (const template of Object.keys(paths)) {
    const t = template.split('/');
    if (t.length !== segs.length) continue;
    let literals = 0;
    let ok = true;
    for (let i = 0; i < t.length && ok; i++) {
      if (/^\{[^}]+\}$/.test(t[i])) ok = segs[i].length > 0;
      else if (t[i] === segs[i]) literals++;
      else ok = false;
    }
    if (ok && literals > bestLiterals) {
      best = template;
      bestLiterals = literals;
    }
  }
  return best;
}

function resolveRef(doc, obj) {
  let seen = 0;
  while (obj && typeof obj.$ref === 'string' && obj.$ref.startsWith('#/') && seen++ < 16) {
    obj = obj.$ref.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((o, k) => (o == null ? undefined : o[k]), doc);
  }
  return obj;
}

export class ResponseChecker {
  /** fetchDoc(origin) resolves {status, json} of GET /openapi.json. */
  constructor(fetchDoc) {
    this.fetchDoc = fetchDoc;
    this.doc = null;
    this.ajv = null;
    this.validators = new Map();
  }

  /** The document, fetched once (concurrent first answers share the fetch). */
  async load(origin) {
    if (this.doc) return this.doc;
    this.loading ??= this.fetchOnce(origin).finally(() => { this.loading = null; });
    return this.loading;
  }

  async fetchOnce(origin) {
    let r;
    try {
      r = await this.fetchDoc(origin);
    } catch {
      return null; // server going away: nothing to check against this time
    }
    if (r.status !== 200 || !r.json) return null; // a worker-only process serves no document
    this.doc = r.json;
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.ajv);
    this.ajv.addSchema(this.doc, DOC_ID);
    // validators are compiled on first use (~30 ms each, then cached): all
    // of them up front would cost every server start most of a second
    return this.doc;
  }

  /** Where the schema of one response's media type is, through the operation as written (so
   * the $refs inside resolve in the document). */
  schemaPointer(template, m, key, media) {
    const ref = this.doc.paths[template][m].responses[key].$ref;
    const resp = typeof ref === 'string' && ref.startsWith('#/') ? ref.slice(1)
      : `/paths/${pointerPart(template)}/${m}/responses/${pointerPart(key)}`;
    return `${resp}/content/${pointerPart(media)}/schema`;
  }

  validator(pointer) {
    let v = this.validators.get(pointer);
    if (!v) {
      v = this.ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
      this.validators.set(pointer, v);
    }
    return v;
  }

  /** Throws when the answer r ({status, headers, body, json}) is not what the document says. */
  async check(origin, method, rawPath, r) {
    const m = String(method).toLowerCase();
    if (m === 'head' || m === 'options' || !METHODS.includes(m)) return;
    const doc = await this.load(origin);
    if (!doc?.paths) return;
    const path = rawPath.split('?')[0];
    const template = matchPath(doc.paths, path);
    const op = template && doc.paths[template][m];
    if (!op || op['x-kirana-undescribed']) return;
    const where = `${method} ${rawPath} → ${r.status}`;
    const fail = (why) => {
      throw new Error(`answer does not match /openapi.json (${method.toUpperCase()} ${template}): ${where}: ${why}\n` +
        `content-type: ${r.headers['content-type']}\nbody: ${String(r.body).slice(0, 600)}`);
    };
    const status = String(r.status);
    const key = [status, `${status[0]}XX`, `${status[0]}xx`, 'default'].find((s) => op.responses?.[s]);
    if (!key) fail(`status ${status} is not described`);
    const resp = resolveRef(doc, op.responses[key]);
    const content = resp?.content;
    if (!content || Object.keys(content).length === 0) {
      if (r.body !== '') fail('the description has no content, the answer has a body');
      return;
    }
    const ct = r.headers['content-type'];
    const media = Object.keys(content).find((k) => k.toLowerCase() === String(ct).toLowerCase()) ??
      Object.keys(content).find((k) => essence(k) === essence(ct));
    if (!media) fail(`content type ${ct} is not one of ${Object.keys(content).join(', ')}`);
    if (!isJson(media) || !content[media].schema) return;
    if (r.json === null && r.body !== 'null') fail('the body is not JSON');
    const v = this.validator(this.schemaPointer(template, m, key, media));
    if (!v(r.json)) fail(this.ajv.errorsText(v.errors, { separator: '; ' }));
  }
}
