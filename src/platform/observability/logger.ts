// pino JSON logs. Secrets, tokens, cookies and PHI never reach a log line: requests are logged by
// method, path (never the query string: it can carry identifiers and tokens) and route; headers
// and bodies are not logged at all; and known secret-bearing keys are redacted wherever a log
// object carries them. Every line inside a request carries its request id and trace id.

import { trace } from '@opentelemetry/api'
import type { FastifyReply, FastifyRequest } from 'fastify'
import pino, { type DestinationStream, type Logger } from 'pino'
import type { LogLevel } from '../../config/index.ts'

export const REDACTED = '[REDACTED]'

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
  const e = err as Error & { code?: unknown; statusCode?: unknown }
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
          path: typeof req.url === 'string' ? req.url.split('?')[0] : undefined,
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
