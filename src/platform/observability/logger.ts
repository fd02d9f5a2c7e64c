// pino JSON logs. Secrets, tokens, cookies and PHI never reach a log line: requests are logged by
// method, path (never the query string: it can carry identifiers and tokens; only the route
// pattern when the path itself carries a token, see loggablePath) and route; headers
// and bodies are not logged at all; and known secret-bearing keys are redacted wherever a log
// object carries them. Every line inside a request carries its request id and trace id.

import { trace } from '@opentelemetry/api'
import type { FastifyReply, FastifyRequest } from 'fastify'
import pino, { type DestinationStream, type Logger } from 'pino'
import type { LogLevel } from '../../config/index.ts'
import { urlDefect } from '../http/input-boundary.ts'

export const REDACTED = '[REDACTED]'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The URL path itself carries a secret (a mailed link's token): logs and traces record the
     *  route pattern (`/account/password-reset/:token`) instead of the path. */
    secretInPath?: boolean
  }
}

/** The path to record for a request: never the query string, and only the route pattern when the
 *  route says its path carries a secret. Shared by the request log and the trace spans. */
export function loggablePath(request: Pick<FastifyRequest, 'url' | 'routeOptions'>): string | undefined {
  if (request.routeOptions?.config?.secretInPath === true) return request.routeOptions.url
  const path = typeof request.url === 'string' ? request.url.split('?')[0] : undefined
  // A path the input boundary refuses (NUL, bad encodings) is hostile input: log the pattern, not the path (ADR-0015).
  if (path !== undefined && urlDefect(path) !== undefined)
    return request.routeOptions?.url ?? '[refused path]'
  return path
}

const SECRET_KEYS = [
  'authorization',
  'cookie',
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'code_verifier',
  'client_secret',
  'client_assertion',
  'secret',
  'totp',
  'otp',
]

// pino's redact takes explicit paths: each key at the top level and one and two levels down.
// Whole header objects are dropped: no header is worth the risk of a bearer token in a log.
export const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  'req.headers',
  'res.headers',
  'headers',
]

/** Error serializer: keeps what debugging needs, drops fields in which drivers echo data values. */
function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: 'non-error thrown' }
  const e = err as Error & { code?: unknown; statusCode?: unknown; severity?: unknown }
  // A database error's message quotes the offending value ('invalid input syntax for type uuid:
  // "…"'), and its stack repeats it: keep the SQLSTATE and the frames only (ADR-0015).
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string') {
    return {
      type: e.name,
      message: `database error ${e.code}`,
      code: e.code,
      stack: e.stack
        ?.split('\n')
        .filter((l) => l.trimStart().startsWith('at '))
        .join('\n'),
    }
  }
  return {
    type: e.name,
    message: e.message,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.statusCode === 'number' ? { statusCode: e.statusCode } : {}),
    stack: e.stack,
    ...(e.cause instanceof Error ? { cause: serializeError(e.cause) } : {}),
  }
}

export function createLogger(options: { level: LogLevel; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'vigil' },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      serializers: {
        err: serializeError,
        error: serializeError,
        req: (req: FastifyRequest) => ({
          method: req.method,
          path: loggablePath(req),
          route: req.routeOptions?.url,
          remoteAddress: req.ip,
        }),
        res: (res: FastifyReply) => ({ statusCode: res.statusCode }),
      },
      mixin() {
        const span = trace.getActiveSpan()
        if (!span) return {}
        const ctx = span.spanContext()
        return { traceId: ctx.traceId, spanId: ctx.spanId }
      },
    },
    options.destination,
  )
}
