// The internal services a token exchange (RFC 8693) may address. An exchanged JWT names exactly one
// of them as its `aud`; each service accepts only JWTs for its own audience, and the public API
// accepts none of them (it takes opaque tokens only, see security/authn/access-token.ts).

export const INTERNAL_AUDIENCES = ['urn:vigil:internal:device-data', 'urn:vigil:internal:audit'] as const

export type InternalAudience = (typeof INTERNAL_AUDIENCES)[number]
