// API versions side by side (/api/v1, /api/v2), and deprecation that clients can read from every
// response: Deprecation (RFC 9745), Sunset (RFC 8594) and Link to the successor and the docs.

import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify'

export interface Deprecation {
  /** When the route became deprecated (ISO 8601 date or date-time, UTC). */
  readonly since: string
  /** When it stops being served (ISO 8601 date or date-time, UTC). */
  readonly sunset: string
  /** The path (or URL) of the route that replaces it. */
  readonly successor: string
}

declare module 'fastify' {
  interface FastifyContextConfig {
    deprecation?: Deprecation
  }
}

export type ApiVersion = 'v1' | 'v2'

export class DeprecationConfigError extends Error {
  override name = 'DeprecationConfigError'
}

function parseInstant(value: string, where: string, field: string): Date {
  const d = new Date(value)
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime()))
    throw new DeprecationConfigError(`Route ${where}: deprecation.${field} must be an ISO 8601 date`)
  return d
}

export function deprecationHeaders(dep: Deprecation, docsUrl: string): Record<string, string> {
  const since = new Date(dep.since)
  return {
    // RFC 9745 §2.1: an RFC 9651 Date structured field, "@" followed by epoch seconds.
    deprecation: `@${Math.floor(since.getTime() / 1000)}`,
    // RFC 8594 §3: an HTTP-date.
    sunset: new Date(dep.sunset).toUTCString(),
    link: `<${dep.successor}>; rel="successor-version", <${docsUrl}>; rel="deprecation"; type="text/html"`,
  }
}

export function registerDeprecation(app: FastifyInstance, options: { docsUrl: string }): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const dep = route.config?.deprecation
    if (!dep) return
    const where = `${String(route.method)} ${route.url}`
    const since = parseInstant(dep.since, where, 'since')
    const sunset = parseInstant(dep.sunset, where, 'sunset')
    if (sunset <= since)
      throw new DeprecationConfigError(`Route ${where}: deprecation.sunset must be after deprecation.since`)
    const schema = (route.schema ??= {}) as Record<string, unknown>
    schema.deprecated = true
    const note = `Deprecated since ${since.toISOString().slice(0, 10)}; sunset ${sunset.toISOString().slice(0, 10)}. Use ${dep.successor}.`
    schema.description = schema.description ? `${String(schema.description)}\n\n**${note}**` : `**${note}**`
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const dep = request.routeOptions.config?.deprecation
    if (dep) reply.headers(deprecationHeaders(dep, options.docsUrl))
    return payload
  })
}

/** Registers each version's route modules under its own prefix. */
export async function registerApiVersions(
  app: FastifyInstance,
  versions: Readonly<Record<ApiVersion, readonly FastifyPluginAsync[]>>,
): Promise<void> {
  for (const [version, modules] of Object.entries(versions)) {
    const versionScope: FastifyPluginAsync = async (scope) => {
      for (const mod of modules) await scope.register(mod)
    }
    // Named, so logs and trace spans say "api-v1" rather than quoting the function's source.
    Object.defineProperty(versionScope, Symbol.for('fastify.display-name'), { value: `api-${version}` })
    await app.register(versionScope, { prefix: `/api/${version}` })
  }
}
