// Security events raised while authenticating (failed logins, locks, second-factor failures,
// password changes) as audit entries: the account concerned, from where, in which request — the
// request's own entry says only "POST /interaction/:uid/login 401".

import type { AuditEntryInput } from './entry.ts'

export interface SecurityEvent {
  readonly type: string
  readonly key?: unknown
  readonly userId?: unknown
}

export interface RequestFacts {
  readonly id: string
  readonly ip: string
  readonly userAgent: string | undefined
}

const REFUSED = /failed|locked|blocked/

export function securityEventEntry(event: SecurityEvent, request: RequestFacts | undefined): AuditEntryInput {
  const key = typeof event.key === 'string' ? event.key : undefined
  const separator = key?.indexOf(':') ?? -1
  const keyKind = key && separator > 0 ? key.slice(0, separator) : undefined
  const keyValue = key && separator > 0 ? key.slice(separator + 1) : undefined
  const accountId =
    typeof event.userId === 'string' ? event.userId : keyKind === 'account' ? keyValue : undefined
  const refused = REFUSED.test(event.type)
  return {
    // Who acted: the user once they proved who they are; before that, an anonymous caller.
    actorKind: refused || !accountId ? 'anonymous' : 'user',
    actorId: refused ? null : (accountId ?? null),
    action: event.type,
    resourceType: keyKind === 'ip' ? 'ip-address' : 'account',
    // An unknown email is counted under an opaque key, never the address itself.
    resourceId: keyKind === 'ip' ? keyValue : (accountId ?? keyValue ?? null),
    outcome: refused ? 'denied' : 'success',
    ip: request?.ip ?? null,
    userAgent: request?.userAgent?.slice(0, 256) ?? null,
    requestId: request?.id ?? null,
  }
}
