// GET /api/v2/me: who the bearer token represents. The first route that takes a real token.

import { Type } from 'typebox'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const Me = Type.Object({
  kind: Type.Union([Type.Literal('user'), Type.Literal('device'), Type.Literal('client')]),
  id: Type.String(),
  clientId: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  roles: Type.Array(Type.String()),
})

export const accountRoutesV2: RoutePlugin = async function accountRoutesV2(app) {
  app.get(
    '/me',
    {
      config: { policy: 'account.read' },
      schema: {
        tags: ['Account'],
        summary: 'The caller: the user, device or client the access token represents',
        response: { 200: Me },
      },
    },
    async (request) => {
      const p = request.principal
      if (!p) throw new Error('policy hook guarantees a principal')
      return {
        kind: p.kind,
        id: p.id,
        clientId: p.clientId ?? null,
        scopes: [...p.scopes],
        roles: [...p.roles],
      }
    },
  )
}
