// oidc-provider's storage adapter on our database (PGlite or PostgreSQL): every code, token,
// session, grant and interaction is one row of oidc_payloads. Clients come from oauth_clients
// instead (see client-store.ts), so a secret is never stored in plaintext. Expired rows are
// treated as absent at once and swept later.
//
// Bearer values are never stored (ADR-0013). The opaque value oidc-provider hands us — an access,
// refresh or client-credentials token, an authorization or device code, a session cookie, a user
// code — is the row's key only as a keyed hash (HMAC-SHA-256 under a subkey of the keyring), and
// is removed from the stored payload; every look-up hashes what the caller presents. Someone with
// a backup (and no keyring) holds hashes that cannot be presented as tokens nor reversed.
//
// oidc-provider sometimes finds a row by another column (a device code by its user code, a session
// by its uid) and then saves it back or names it in an interaction. It is then handed a *handle*
// in place of the value it cannot know: "stored.<hash>.<tag>", the tag a second HMAC of the hash,
// so the handle resolves to the same row and cannot be forged from a backup. Handles are written
// to the database without their tag, so no presentable value is ever stored.

import { timingSafeEqual } from 'node:crypto'
import Provider, { errors, type Adapter, type AdapterPayload } from 'oidc-provider'
import type { Database, Queryable } from '../../platform/db/index.ts'
import * as repo from './oidc-payloads.repository.ts'
import type { DeviceCodeCheck, DeviceCodeStage } from './oidc-payloads.repository.ts'

/** oidc-provider's own refusal of a later replay of each consumable model. */
const REPLAY_REFUSALS: Readonly<Record<string, string>> = {
  AuthorizationCode: 'authorization code already consumed',
  RefreshToken: 'refresh token already used',
  DeviceCode: 'device code already consumed',
  BackchannelAuthenticationRequest: 'backchannel authentication request already consumed',
}

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
])

/** The keyring's keyed blind index (platform/crypto/keyring.ts). */
export interface StorageKeyring {
  blindIndex(value: string, purpose: string): string
}

const STORED_ID_PURPOSE = 'oidc-provider stored id'
const HANDLE_TAG_PURPOSE = 'oidc-provider stored handle'
const HANDLE = /^stored\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/
const REFERENCE = /^stored\.([A-Za-z0-9_-]{43})$/

/** How an opaque value is stored and looked up: its keyed hash, or the hash a valid handle carries. */
export function oidcStorageId(keyring: StorageKeyring, value: string): string {
  const handle = HANDLE.exec(value)
  if (handle) {
    const [, stored, tag] = handle as unknown as [string, string, string]
    const expected = Buffer.from(keyring.blindIndex(stored, HANDLE_TAG_PURPOSE))
    if (timingSafeEqual(expected, Buffer.from(tag))) return stored
  }
  return keyring.blindIndex(value, STORED_ID_PURPOSE)
}

function handleFor(keyring: StorageKeyring, stored: string): string {
  return `stored.${stored}.${keyring.blindIndex(stored, HANDLE_TAG_PURPOSE)}`
}

/**
 * The stage a device code was read at by whoever saves it now (see DeviceCodeStage). oidc-provider
 * reads a device code, checks its stage, and saves it, in three places: the user code's
 * confirmation sets inFlight on a pending code, and its abort sets an error on one; the device's
 * authorization, completed or failed, sets an account or an error on a confirmed code. It never
 * removes inFlight, and saves nothing else after creating the code. So a decision that carries
 * inFlight was read confirmed, and anything else was read pending.
 */
function deviceCodeStageRead(payload: AdapterPayload): DeviceCodeStage {
  return isDecided(payload) && payload.inFlight === true ? 'confirmed' : 'pending'
}

const isDecided = (payload: AdapterPayload) => Boolean(payload.error) || Boolean(payload.accountId)

/** The request oidc-provider is serving (its Koa context), as far as the adapter reads it. */
export interface ProviderRequest {
  readonly oidc?:
    | { readonly route?: string | undefined; readonly session?: { readonly uid?: string } | undefined }
    | undefined
}

/** What a token request consumes to issue its tokens: a code, a refresh token, a device code. */
const GRANT_SOURCES = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode'])

/** A write of a token request held until its tokens are issued (completeTokenRequest). */
type HeldWrite =
  | { readonly kind: 'consume'; readonly model: string; readonly id: string }
  | { readonly kind: 'upsert'; readonly row: Parameters<typeof repo.upsertGrantPayload>[1] }

/** Thrown inside the transaction of a token request's writes to roll it back. */
class TokenWritesRefused extends Error {
  constructor(readonly refusal: () => Promise<never>) {
    super('token request refused')
  }
}

/** A device code saved after another request moved it on: two confirmations or decisions at once. */
const deviceCodeMovedOn = () => new errors.InvalidRequest('device code already used')
const resumeLost = () => new errors.SessionNotFound('interaction session not found')

export interface ClientLookup {
  find(clientId: string): Promise<AdapterPayload | undefined>
}

export function createPostgresAdapterFactory(deps: {
  db: Queryable & Pick<Database, 'transaction'>
  clients: ClientLookup
  keyring: StorageKeyring
  /** The request being served; oidc-provider's own (Provider.ctx) unless a test gives one. */
  currentRequest?: () => ProviderRequest | undefined
}) {
  const { db, keyring } = deps
  const currentRequest = deps.currentRequest ?? (() => Provider.ctx)
  const key = (value: string) => oidcStorageId(keyring, value)
  /** The grant revocations started in this turn, by stored grant id (revokeByGrantId). */
  const revokingNow = new Map<string, Promise<void>>()
  /** The requests (oidc-provider's contexts) that found their interaction destroyed by another (destroy). */
  const resumesLost = new WeakSet<ProviderRequest>()
  /** The browser sessions each request found stored (their stored ids), read at its start. */
  const sessionsRead = new WeakMap<ProviderRequest, Set<string>>()
  /** Each token request's consumption and the tokens it issues, written together at its end. */
  const heldWrites = new WeakMap<ProviderRequest, HeldWrite[]>()
  /** The browser a request comes from: the keyed hash of its oidc-provider session's uid. */
  const browserOf = (request: ProviderRequest | undefined): string | null => {
    const session = request?.oidc?.session?.uid
    return session ? key(session) : null
  }

  /** The payload as stored: no jti (the row's key is its hash), no user code (its hash is a column), no session cookie in an interaction, a device code referenced by hash. */
  function toStored(model: string, payload: AdapterPayload): AdapterPayload {
    const { jti: _jti, userCode: _userCode, ...rest } = payload
    if (model === 'Interaction') {
      const session = rest.session as (Record<string, unknown> & { cookie?: unknown }) | undefined
      if (session && 'cookie' in session) {
        const { cookie: _cookie, ...kept } = session
        rest.session = kept as never
      }
      if (typeof rest.deviceCode === 'string') rest.deviceCode = `stored.${key(rest.deviceCode)}`
    }
    return rest
  }

  /** The payload oidc-provider expects back: its jti (the value it asked with, or a handle), and references turned back into handles. */
  function fromStored(
    model: string,
    stored: string,
    payload: AdapterPayload,
    jti: string | undefined,
    extra: Partial<AdapterPayload>,
  ): AdapterPayload {
    const out: AdapterPayload = { ...payload, ...extra, jti: jti ?? handleFor(keyring, stored) }
    if (model === 'Interaction' && typeof out.deviceCode === 'string') {
      const ref = REFERENCE.exec(out.deviceCode)
      if (ref?.[1]) out.deviceCode = handleFor(keyring, ref[1])
    }
    return out
  }

  /** A code or token presented again once consumed: refused as oidc-provider refuses it, and its grant revoked. */
  async function refuseReplay(model: string, stored: string): Promise<never> {
    const grantId = await repo.grantIdOf(db, model, stored)
    if (grantId) await repo.deleteGrant(db, grantId)
    throw new errors.InvalidGrant(REPLAY_REFUSALS[model] ?? 'grant already consumed')
  }

  return class PostgresAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed through the client store')
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null
      const grantId =
        GRANTABLE.has(this.model) && typeof payload.grantId === 'string' ? key(payload.grantId) : null
      const userCode = typeof payload.userCode === 'string' ? key(payload.userCode) : null
      const uid = typeof payload.uid === 'string' ? key(payload.uid) : null
      const stored = toStored(this.model, payload)
      const request = currentRequest()
      // A device code is saved only while it is still where its writer read it (ADR-0013): of two
      // confirmations or two decisions at once, one is kept, and no decision is overwritten. The
      // browser that confirmed it may confirm it again, or abort, until it is decided (see
      // findByUserCode); anybody else is refused.
      let check: DeviceCodeCheck | null = null
      if (this.model === 'DeviceCode') {
        // oidc-provider records any failure of the person's side of the device flow on the device
        // code (deviceUserFlowErrors), a server error included: a database blip while the person
        // approved (a backend ended, a statement timed out) ended the device's pairing with
        // `server_error`, and the code entered again was refused as used. A server error is no
        // decision of the person's: it is not recorded; the device keeps waiting, and the person
        // can enter the code again.
        if (payload.error === 'server_error') return
        if (request && resumesLost.has(request)) throw resumeLost()
        const readAt = deviceCodeStageRead(payload)
        const by = readAt === 'pending' ? browserOf(request) : null
        if (by && payload.inFlight === true && !isDecided(payload)) stored.confirmedIn = by
        check = { readAt, by }
      }
      const row = { model: this.model, id: key(id), payload: stored, userCode, uid, expiresAt }
      // The tokens a token request issues are written with what it consumed (consume below).
      const held = request && heldWrites.get(request)
      if (held && grantId !== null && check === null) {
        held.push({ kind: 'upsert', row: { ...row, grantId } })
        return
      }
      // oidc-provider saves a request's browser session when the request ends, as the request read it
      // at its start, failed requests included. A session deleted meanwhile by another request (a
      // sign-out, or a sign-in that gave the session a new identifier) came back from that save,
      // with what it held before: a sign-out undone, or a resume's loser putting back the session
      // without the grant the winner had just recorded, so the code or device code bound to the
      // session was no longer found. A session this request read is written only while it is stored.
      if (this.model === 'Session') {
        if (request && sessionsRead.get(request)?.has(row.id)) {
          await repo.updatePayload(db, { ...row, grantId })
          return
        }
      }
      if (grantId === null) {
        const written = await repo.upsertPayload(db, { ...row, grantId }, check)
        if (!written && check) throw deviceCodeMovedOn()
        return
      }
      // A code or token is written only while its grant is stored (ADR-0013): a redemption raced by
      // a replay that revoked the grant meanwhile saves nothing, and is refused as oidc-provider
      // refuses a grant it cannot find, instead of handing out a token that outlives its grant.
      if (await repo.upsertGrantPayload(db, { ...row, grantId }, check)) return
      if (check && (await repo.livePayloadWhere(db, 'Grant', 'id', grantId))) throw deviceCodeMovedOn()
      throw new errors.InvalidGrant('grant not found')
    }

    private async findWhere(
      column: 'id' | 'user_code' | 'uid',
      value: string,
      jti: string | undefined,
      extra: Partial<AdapterPayload> = {},
    ): Promise<AdapterPayload | undefined> {
      const row = await repo.livePayloadWhere(db, this.model, column, key(value))
      if (!row) return undefined
      const payload = fromStored(this.model, row.id, row.payload, jti, extra)
      return row.consumedAt ? { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : payload
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return deps.clients.find(id)
      const found = await this.findWhere('id', id, id)
      if (found && this.model === 'Session') {
        const request = currentRequest()
        if (request) sessionsRead.set(request, (sessionsRead.get(request) ?? new Set()).add(key(id)))
      }
      return found
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const found = await this.findWhere('user_code', userCode, undefined, { userCode })
      // oidc-provider refuses a user code in flight, the browser that confirmed it included: a
      // double click, or a sign-in abandoned and started again, left the person with a code they
      // could not use. To that browser, until the code is decided, it is shown as not yet confirmed;
      // confirming it again starts a new sign-in, and the save is checked as upsert says.
      if (
        found?.inFlight === true &&
        !isDecided(found) &&
        typeof found.confirmedIn === 'string' &&
        found.confirmedIn === browserOf(currentRequest())
      ) {
        const { inFlight: _inFlight, ...unconfirmed } = found
        return unconfirmed
      }
      return found
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.findWhere('uid', uid, undefined)
    }

    async consume(id: string): Promise<void> {
      // oidc-provider consumes a code, refresh token or device code, then saves the tokens it
      // issues for it, each a statement of its own: a database failure in between (a connection
      // ended, a statement timed out) left it consumed with no tokens issued, and the client's retry
      // was refused as a replay, which revokes the grant: the app signed out, the device unpaired.
      // At the token endpoint the consumption and the tokens are written together when the grant
      // is complete, in one transaction (completeTokenRequest); a request that fails writes neither.
      const request = currentRequest()
      if (request?.oidc?.route === 'token' && GRANT_SOURCES.has(this.model)) {
        heldWrites.set(request, [
          ...(heldWrites.get(request) ?? []),
          { kind: 'consume', model: this.model, id: key(id) },
        ])
        return
      }
      // oidc-provider reads the row, checks that it is not consumed, then consumes it: two requests
      // redeeming one code or refresh token at once both passed the check and both got tokens
      // (ADR-0013). The update consumes it once; the request that finds it consumed already is a
      // replay, refused as oidc-provider refuses one that comes later, and the grant is revoked.
      if (await repo.markConsumed(db, this.model, key(id))) return
      if (this.model === 'PushedAuthorizationRequest')
        throw new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used')
      return refuseReplay(this.model, key(id))
    }

    /**
     * Writes what the token request being completed held back (consume above): its consumption and
     * the tokens it issued, in one transaction. A code or token consumed meanwhile by another
     * request is a replay (refused, and the grant revoked); a grant gone meanwhile is refused as
     * oidc-provider refuses one it cannot find; either way nothing of the request is written. A
     * request that failed (`issued` false) writes nothing.
     */
    static async completeTokenRequest(request: ProviderRequest, issued: boolean): Promise<void> {
      const held = heldWrites.get(request)
      heldWrites.delete(request)
      if (!held || !issued) return
      try {
        await db.transaction(async (tx) => {
          for (const write of held) {
            if (write.kind === 'consume') {
              if (!(await repo.markConsumed(tx, write.model, write.id)))
                throw new TokenWritesRefused(() => refuseReplay(write.model, write.id))
            } else if (!(await repo.upsertGrantPayload(tx, write.row))) {
              throw new TokenWritesRefused(() => Promise.reject(new errors.InvalidGrant('grant not found')))
            }
          }
        })
      } catch (err) {
        if (err instanceof TokenWritesRefused) await err.refusal()
        throw err
      }
    }

    async destroy(id: string): Promise<void> {
      // A grant destroyed takes its codes and tokens with it, those being saved right now included:
      // oidc-provider refuses a token whose grant is gone, but our bearer look-up reads only the token.
      if (this.model === 'Grant') return repo.deleteGrant(db, key(id))
      const deleted = await repo.deletePayload(db, this.model, key(id))
      // oidc-provider resumes an authorization by reading its interaction, then destroying it, and
      // destroys it nowhere else: two resumes at once (a double click, a replayed request) both read
      // it and both went on to issue a code. Only the request that deletes it goes on; the other is
      // refused as a resume that comes later is.
      if (!deleted && this.model === 'Interaction') {
        // oidc-provider then records the refusal on the interaction's device code, if it has one
        // (deviceUserFlowErrors), which would end the device's authorization that the request that
        // deleted the interaction is completing. The request is marked, and saves no device code.
        const request = currentRequest()
        if (request) resumesLost.add(request)
        throw resumeLost()
      }
    }

    revokeByGrantId(grantId: string): Promise<void> {
      // Every code and token of the grant at once (a replayed code, a reused refresh token, a
      // revocation or a logout). oidc-provider asks once per model, all in one synchronous call
      // (lib/helpers/revoke.js); one statement deletes the grant's rows of every model, so those
      // calls share it instead of running the same DELETE up to six times at once over the same row
      // locks. Only calls made before the microtask queued by the first one share it: nothing they
      // can know of was written after the first call, so the statement, which runs later, sees it
      // all. Any later call runs its own statement.
      const stored = key(grantId)
      let revoking = revokingNow.get(stored)
      if (!revoking) {
        revoking = repo.deleteGrantPayloads(db, stored)
        revokingNow.set(stored, revoking)
        queueMicrotask(() => revokingNow.delete(stored))
      }
      return revoking
    }
  }
}

/** Removes expired rows; run periodically (retention). */
export function sweepExpiredPayloads(db: Queryable): Promise<number> {
  return repo.deleteExpiredPayloads(db)
}

/** The two models a bearer access token is stored under: a user's (or a paired device's) token, or a client-credentials token. */
export type BearerModel = 'AccessToken' | 'ClientCredentials'

export interface StoredBearer {
  readonly model: BearerModel
  /** The row's key: the token's keyed hash (never the token). */
  readonly storedId: string
  /** The payload as oidc-provider's adapter would return it (jti = the value presented). */
  readonly payload: AdapterPayload
}

/**
 * A presented bearer token looked up once, under either model (issue 17): one statement instead of
 * `AccessToken.find` then `ClientCredentials.find`. The caller hands the payload to that model's
 * own verification (expiry, format) before trusting it.
 */
export async function findBearerToken(
  db: Queryable,
  keyring: StorageKeyring,
  value: string,
): Promise<StoredBearer | undefined> {
  const storedId = oidcStorageId(keyring, value)
  const rows = await repo.liveBearerRows(db, storedId)
  // The same value stored under both models cannot happen (a random 256-bit value each); refuse it if it ever did.
  const row = rows.length === 1 ? rows[0] : undefined
  if (!row) return undefined
  const payload: AdapterPayload = {
    ...row.payload,
    jti: value,
    ...(row.consumedAt ? { consumed: Math.floor(row.consumedAt.getTime() / 1000) } : {}),
  }
  return { model: row.model as BearerModel, storedId, payload }
}
