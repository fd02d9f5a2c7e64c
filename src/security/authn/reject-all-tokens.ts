import { AppError } from '../../platform/http/errors.ts'
import type { Authenticate } from './principal.ts'

/**
 * The authenticator before any token issuer is configured: no credentials → anonymous, any
 * credentials → 401. It never lets a request through on a token it cannot verify.
 */
export const rejectAllTokens: Authenticate = async (request) => {
  if (request.headers.authorization === undefined) return null
  throw new AppError('INVALID_TOKEN', 'The access token is not valid', {
    headers: { 'www-authenticate': 'Bearer realm="vigil", error="invalid_token"' },
  })
}
