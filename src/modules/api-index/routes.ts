// The root of each API version: what version this is, whether it is current, and where the docs
// are. Old firmware and apps can discover that their version is deprecated from here.

import { Type } from 'typebox'
import type { ApiVersion } from '../../platform/http/versioning.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const ApiIndex = Type.Object({
  version: Type.String({ examples: ['v2'] }),
  status: Type.Union([Type.Literal('current'), Type.Literal('supported')]),
  docs: Type.String({ format: 'uri' }),
  openapi: Type.String({ format: 'uri' }),
})

export function apiIndexRoutes(
  version: ApiVersion,
  options: { current: boolean; publicUrl: string },
): RoutePlugin {
  return async function apiIndexRoutesPlugin(app) {
    app.get(
      '/',
      {
        config: { public: 'API discovery document: version and documentation links only' },
        schema: {
          tags: ['API'],
          summary: `The ${version} API root: version status and documentation links`,
          response: { 200: ApiIndex },
        },
      },
      async () => ({
        version,
        status: options.current ? ('current' as const) : ('supported' as const),
        docs: `${options.publicUrl}/docs`,
        openapi: `${options.publicUrl}/openapi.json`,
      }),
    )
  }
}
