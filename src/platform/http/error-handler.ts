// Every error becomes problem+json from the catalogue. A 5xx tells the client nothing of its
// cause — no message, no stack — only the request id to quote; the cause goes to the log.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DATABASE_RETRY_AFTER_SECONDS, findDatabaseUnavailable } from '../db/unavailable.ts'
import { AppError, ERROR_CATALOGUE, type ErrorCode, type ProblemFieldError } from './errors.ts'
import { buildProblem, PROBLEM_CONTENT_TYPE } from './problem.ts'

const MAX_FIELD_ERRORS = 20

interface AjvError {
  instancePath?: string
  keyword?: string
  message?: string
  params?: Record<string, unknown>
}

function fieldErrors(err: FastifyError): ProblemFieldError[] {
  const part = err.validationContext ?? 'body'
  return ((err.validation ?? []) as AjvError[]).slice(0, MAX_FIELD_ERRORS).map((v) => {
    const base = `/${part}${v.instancePath ?? ''}`
    // Name the unknown field in the pointer; never echo a submitted value.
    if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
      return { pointer: `${base}/${escapePointer(v.params.additionalProperty)}`, detail: 'unknown field' }
    }
    return { pointer: base, detail: v.message ?? 'invalid' }
  })
}

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_BODY',
}

export interface ClassifiedError {
  readonly code: ErrorCode
  readonly detail?: string | undefined
  readonly errors?: readonly ProblemFieldError[] | undefined
  readonly headers?: Record<string, string>
  readonly scope?: string | undefined
}

/** Any thrown error → its catalogue code, detail, field errors (JSON Pointers) and headers; shared by problem+json and the FHIR API's OperationOutcome. */
export function classifyError(err: FastifyError | AppError): ClassifiedError {
  if (err instanceof AppError)
    return {
      code: err.code,
      detail: err.message,
      errors: err.errors,
      headers: { ...err.headers },
      scope: err.scope,
    }
  // The database lost its connection, restarts or timed out: retryable, not a server bug (ADR-0017).
  if (findDatabaseUnavailable(err))
    return {
      code: 'SERVICE_UNAVAILABLE',
      detail: 'The database is unavailable; retry shortly',
      headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
    }
  if (err.validation) return { code: 'VALIDATION_FAILED', errors: fieldErrors(err) }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined
  if (mapped) return { code: mapped }
  if (err instanceof SyntaxError && err.statusCode === 400) return { code: 'MALFORMED_BODY' }
  if (err.statusCode === 429) return { code: 'RATE_LIMITED' }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    if (err.statusCode === 404) return { code: 'NOT_FOUND' }
    if (err.statusCode === 413) return { code: 'BODY_TOO_LARGE' }
    if (err.statusCode === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE' }
    return { code: 'VALIDATION_FAILED' }
  }
  return { code: 'INTERNAL' }
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  code: ErrorCode,
  detail?: string,
  errors?: readonly ProblemFieldError[],
  scope?: string,
): FastifyReply {
  const problem = buildProblem(code, request.id, detail, errors, scope)
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem)
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    const { code, detail, errors, headers, scope } = classifyError(err)
    if (code === 'INTERNAL') {
      request.log.error({ err }, 'unhandled error')
      return sendProblem(request, reply, 'INTERNAL')
    }
    if (code === 'SERVICE_UNAVAILABLE') {
      const unavailable = findDatabaseUnavailable(err)
      if (unavailable)
        request.log.warn(
          { err: { type: unavailable.name, message: unavailable.message, code: unavailable.reason } },
          'database unavailable',
        )
    }
    if (headers) reply.headers(headers)
    return sendProblem(request, reply, code, detail, errors, scope)
  })

  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, 'NOT_FOUND', 'No route matches this method and path'),
  )
}

/**
 * Errors Fastify raises before any route matches — a URL whose escapes are not UTF-8
 * (FST_ERR_BAD_URL) — answered like any other refusal of the input boundary (ADR-0015): 400, in
 * the FHIR API's shape under /fhir/ (no route matched, so the path is all there is to go by).
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const detail =
    err.code === 'FST_ERR_BAD_URL' ? 'The request URL is not valid percent-encoded UTF-8' : undefined
  if (request.url.startsWith('/fhir/')) {
    void reply
      .code(400)
      .type('application/fhir+json; charset=utf-8')
      .send({
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'invalid',
            diagnostics: `${ERROR_CATALOGUE.VALIDATION_FAILED.title}${detail ? `: ${detail}` : ''}`,
          },
        ],
      })
    return
  }
  void sendProblem(request, reply, 'VALIDATION_FAILED', detail)
}
