// Schema validation that rejects rather than repairs. Fastify's default Ajv strips unknown
// properties and coerces types; a medical API must not silently turn {"value":"12"} into 12 or
// drop a misspelt field (HLD §11: pitfalls). Bodies: no coercion, no removal. Query strings,
// params and headers arrive as text, so they alone are coerced to the declared scalar types.

import { Ajv, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import { isValidDate, isValidDateTime } from './calendar.ts'

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({
    removeAdditional: false,
    useDefaults: true,
    allErrors: true,
    strict: false, // TypeBox and OpenAPI annotations (examples, description) are not Ajv keywords
    ...options,
  })
  // ajv-formats is CommonJS: its function is the default export's default.
  const addFormats = (addFormatsModule as unknown as { default: (a: Ajv) => Ajv }).default ?? addFormatsModule
  addFormats(ajv)
  // Stricter than ajv-formats: a real calendar day, no leap second, years 0001–9999 (ADR-0015).
  ajv.addFormat('date', { type: 'string', validate: isValidDate })
  ajv.addFormat('date-time', { type: 'string', validate: isValidDateTime })
  return ajv
}

export function createAjv(kind: 'body' | 'text'): Ajv {
  return makeAjv({ coerceTypes: kind === 'text' ? 'array' : false })
}

export function registerValidation(app: FastifyInstance): void {
  const body = createAjv('body')
  const text = createAjv('text')
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? body : text
    return ajv.compile(schema)
  })
}
