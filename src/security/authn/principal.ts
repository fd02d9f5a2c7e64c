// Who is calling. One shape for users, devices and clients; the identity issue fills it from
// access tokens. Until then no bearer token can be valid (see ADR-0002).

import type { FastifyRequest } from 'fastify'

export type PrincipalKind = 'user' | 'device' | 'client'

export interface Principal {
  readonly kind: PrincipalKind
  /** The user, device or client id. */
  readonly id: string
  readonly clientId: string | undefined
  readonly scopes: readonly string[]
  readonly roles: readonly string[]
}

/** Turns a request's credentials into a Principal: null when it carries none; throws AppError('INVALID_TOKEN') when they are bad. */
export type Authenticate = (request: FastifyRequest) => Promise<Principal | null>
