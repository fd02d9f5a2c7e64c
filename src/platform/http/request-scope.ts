// The request a piece of code is running for, without threading it through every call: set in
// onRequest with AsyncLocalStorage (the same technique as @fastify/request-context), read by code
// deep in a service that needs the request id or the caller's address — audit entries for
// security events raised inside the accounts module, for one.

import { AsyncLocalStorage } from 'node:async_hooks'
import type { FastifyInstance, FastifyRequest } from 'fastify'

export interface RequestScope {
  current(): FastifyRequest | undefined
}

export function registerRequestScope(app: FastifyInstance): RequestScope {
  const storage = new AsyncLocalStorage<FastifyRequest>()
  app.addHook('onRequest', (request, _reply, done) => {
    storage.run(request, done)
  })
  return { current: () => storage.getStore() }
}
