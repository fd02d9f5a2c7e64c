// The TypeBox type provider (ADR-0030): route plugins take their request and reply types from the
// route's schemas, so a handler and its schema cannot drift apart without the compiler noticing.
// app.ts registers the provider once (withTypeProvider); each route plugin is typed with it here.
// Types only: validation at run time stays with Fastify's Ajv (platform/http/validation.ts).

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyPluginOptions,
  FastifyReply,
  RawServerDefault,
} from 'fastify'

export type { TypeBoxTypeProvider }

/** A Fastify instance whose handlers are typed from their TypeBox schemas. */
export type TypedApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

/** A route plugin whose handlers are typed from their TypeBox schemas. */
export type RoutePlugin<Options extends FastifyPluginOptions = Record<never, never>> = FastifyPluginAsync<
  Options,
  RawServerDefault,
  TypeBoxTypeProvider
>

/**
 * 204 No Content with no body at all. The route's schema documents it as `204: Type.Null()`, so the
 * typed reply wants `send(null)` — which would run the serializer and set a JSON content type. The
 * reply is sent empty, as before; this is the one place that steps around the reply's type for it.
 */
export function noContent(
  reply: Pick<FastifyReply, 'code'> | { code(statusCode: 204): unknown },
): FastifyReply {
  return (reply as FastifyReply).code(204).send()
}
