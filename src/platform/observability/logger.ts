// pino JSON logs. Secrets, tokens, cookies and PHI never reach a log line: requests are logged by
// method, path (never the query string: it can carry identifiers and tokens; only the route
// pattern when the path itself carries a token, see loggablePath) and route; headers
// and bodies are not logged at all; and known secret-bearing keys are redacted wherever a log
// object carries them. Every line inside a request carries its request id and trace id.

import { trace } from '@opentelemetry/api'
import type { FastifyReply, FastifyRequest } from 'fastify'
import pino, { type DestinationStream, type Logger, type SerializerFn } from 'pino'
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

// Keys whose values are secrets, compared without case, `-` or `_` (so `Authorization`,
// `access-token` and `accessToken` are all caught). `headers` is dropped whole: no header is worth
// the risk of a bearer token in a log.
const SECRET_KEYS = new Set(
  [
    'authorization',
    'cookie',
    'set-cookie',
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
    'api_key',
    'headers',
  ].map(normalizedKey),
)

/** Objects nested deeper than this are not walked: the whole subtree is censored (ADR-0035). */
export const REDACT_MAX_DEPTH = 8

function normalizedKey(key: string): string {
  return key.replace(/[-_]/g, '').toLowerCase()
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(normalizedKey(key))
}

/**
 * A copy of `value` in which every secret key's value, at any depth, is `[REDACTED]`, and any
 * object deeper than REDACT_MAX_DEPTH is `[REDACTED]` whole (which also ends a cycle). The input is
 * never changed; a subtree with nothing to censor is returned as it is, uncopied. An object with
 * `toJSON` is judged by what its `toJSON` returns, as JSON.stringify would write it; a Date or a
 * Buffer is left alone (ADR-0035).
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth >= REDACT_MAX_DEPTH) return REDACTED
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      const redacted = redactSecrets(item, depth + 1)
      if (redacted !== item) (out ??= value.slice())[i] = redacted
    }
    return out ?? value
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') {
    // A Date or a Buffer writes no keys of its own; anything else is judged by what it writes.
    if (value instanceof Date || Buffer.isBuffer(value)) return value
    const written: unknown = toJSON.call(value)
    const redacted = redactSecrets(written, depth)
    return redacted === written ? value : redacted
  }
  return redactKeys(value as Record<string, unknown>, depth)
}

/** `o` with every secret key's value censored and every other value redacted a level down; keys `leave` has are left as they are. */
function redactKeys(o: Record<string, unknown>, depth: number, leave?: object): Record<string, unknown> {
  let out: Record<string, unknown> | undefined
  for (const key of Object.keys(o)) {
    const item = o[key]
    if (item === undefined || (leave !== undefined && Object.hasOwn(leave, key))) continue
    const redacted = isSecretKey(key) ? REDACTED : redactSecrets(item, depth + 1)
    if (redacted !== item) (out ??= { ...o })[key] = redacted
  }
  return out ?? o
}

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

const serializers: Record<string, SerializerFn> = {
  err: serializeError,
  error: serializeError,
  req: (req: FastifyRequest) => ({
    method: req.method,
    path: loggablePath(req),
    route: req.routeOptions?.url,
    remoteAddress: req.ip,
  }),
  res: (res: FastifyReply) => ({ statusCode: res.statusCode }),
}

// pino runs formatters.log before the serializers: a key with a serializer is left for it (its raw
// value is a request or an error, not a log object to walk) and its output is redacted instead.
const redactingSerializers: Record<string, SerializerFn> = Object.fromEntries(
  Object.entries(serializers).map(([key, serialize]) => [
    key,
    (value: unknown) => redactSecrets(serialize(value), 1),
  ]),
)

const redactLogObject = (obj: Record<string, unknown>): Record<string, unknown> =>
  redactKeys(obj, 0, serializers)

export function createLogger(options: { level: LogLevel; destination?: DestinationStream }): Logger {
  const logger = pino(
    {
      level: options.level,
      base: { service: 'vigil' },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      // Redaction by key at any depth (ADR-0035), on every log object and on the base bindings.
      formatters: { log: redactLogObject, bindings: redactLogObject },
      serializers: redactingSerializers,
      mixin() {
        const span = trace.getActiveSpan()
        if (!span) return {}
        const ctx = span.spanContext()
        return { traceId: ctx.traceId, spanId: ctx.spanId }
      },
    },
    options.destination,
  )
  // pino gives a child no bindings formatter of its parent's, so a child's bindings (Fastify's
  // request logger is one) are redacted here, before pino sees them. Every descendant inherits
  // this `child` through its prototype, and `this` stays the logger it is called on.
  const child = logger.child
  Object.defineProperty(logger, 'child', {
    value: function redactedChild(
      this: Logger,
      bindings: pino.Bindings,
      childOptions?: pino.ChildLoggerOptions,
    ): Logger {
      return Reflect.apply(child, this, [redactLogObject(bindings), childOptions]) as Logger
    },
  })
  return logger
}
