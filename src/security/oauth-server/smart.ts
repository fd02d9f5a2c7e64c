// SMART App Launch 2.0 pieces the authorization server needs beyond oidc-provider (ADR-0018):
// the user's FHIR identity (fhirUser), and the EHR launch context — created by a signed-in
// clinician, checked at the authorization endpoint, bound to the grant when the code is issued,
// read whenever a token for that grant is issued or refreshed.

import { randomBytes } from 'node:crypto'
import type Provider from 'oidc-provider'
import type { Queryable } from '../../platform/db/index.ts'
import type { AccountDirectory } from './account-directory.ts'
import { clientMetadataContaining } from './oauth-clients.repository.ts'
import * as repo from './smart-launch.repository.ts'

/** Error descriptions the authorization endpoint returns: fixed sentences, never the value sent. */
export const SMART_ERRORS = {
  audMalformed: 'aud must be the absolute FHIR base URL of this server',
  audOther: 'aud names a FHIR server other than this one',
  launchUnknown: 'launch is unknown, expired, already used or issued for another client',
  launchScope: 'the launch parameter needs the launch scope',
  noFhirUser:
    'fhirUser was requested but this user has no FHIR identity (a patient record or a clinician role)',
} as const

/** How long a launch context may wait for the app (SMART leaves it to the EHR; short, single use). */
export const LAUNCH_TTL_SECONDS = 300

/** SMART App Launch §2.0.10: the user's FHIR resource — their Patient record, or Practitioner for a clinician. */
export async function fhirUserOf(
  accounts: Pick<AccountDirectory, 'fhirIdentity'>,
  fhirBase: string,
  userId: string,
): Promise<string | undefined> {
  const identity = await accounts.fhirIdentity(userId)
  if (identity.patientId) return `${fhirBase}/Patient/${identity.patientId}`
  if (identity.clinician) return `${fhirBase}/Practitioner/${userId}`
  return undefined
}

/** Records an EHR launch context; the id is what the EHR hands the app as `launch`. */
export async function createLaunch(
  db: Queryable,
  input: { clientId: string; userId: string; patientId: string; now: Date },
): Promise<{ launch: string; expiresAt: Date }> {
  const launch = randomBytes(24).toString('base64url')
  const expiresAt = new Date(input.now.getTime() + LAUNCH_TTL_SECONDS * 1000)
  await repo.insertLaunch(db, {
    id: launch,
    clientId: input.clientId,
    userId: input.userId,
    patientId: input.patientId,
    createdAt: input.now,
    expiresAt,
  })
  return { launch, expiresAt }
}

/** Is this launch usable by this client now (and, with `use`, mark it used)? */
export async function consumeLaunch(
  db: Queryable,
  launch: string,
  clientId: string,
  use: boolean,
): Promise<'ok' | 'refused'> {
  const usable = use
    ? (await repo.useLaunch(db, launch, clientId)) !== undefined
    : await repo.launchUsable(db, launch, clientId)
  return usable ? 'ok' : 'refused'
}

/** The patient an EHR launch bound to this grant, if any. */
export function grantPatient(db: Queryable, grantId: string): Promise<string | undefined> {
  return repo.grantPatient(db, grantId)
}

/**
 * After the authorization endpoint issued a code (in a redirect's query or fragment, or a form
 * post): bind the launch's patient to the code's grant (single use). A launch that is no longer
 * usable, or that another user created, destroys the code, so the app's token request fails with
 * invalid_grant and nothing is issued.
 */
export async function recordGrantContext(
  provider: Provider,
  db: Queryable,
  launch: string,
  clientId: string,
  code: string,
): Promise<void> {
  const stored = await provider.AuthorizationCode.find(code)
  if (!stored?.grantId) return
  const used = await repo.useLaunch(db, launch, clientId)
  if (!used || used.userId !== stored.accountId) {
    await stored.destroy()
    return
  }
  await repo.saveGrantPatient(db, { grantId: stored.grantId, patientId: used.patientId, launchId: launch })
}

/**
 * CORS for browser-hosted SMART apps (ADR-0018): an origin is allowed on the FHIR API and the
 * token endpoint when it is the origin of a redirect URI of a registered client with a SMART
 * scope, so such an app works without the operator adding it to CORS_ORIGINS. Looked up per
 * request (a removed client stops at once); only http(s) origins count.
 */
export async function isSmartAppOrigin(db: Queryable, origin: string): Promise<boolean> {
  if (!URL.canParse(origin)) return false
  const parsed = new URL(origin)
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.origin !== origin) return false
  return (await clientMetadataContaining(db, origin)).some((m) => {
    const smart = String(m.scope ?? '')
      .split(' ')
      .some((s) => /^(patient|user)\//.test(s) || s === 'launch' || s === 'launch/patient')
    return smart && (m.redirect_uris ?? []).some((u) => URL.parse(u)?.origin === origin)
  })
}

/** The paths a SMART app's origin may call from a browser. */
export function isSmartCorsPath(url: string): boolean {
  return url.startsWith('/fhir/R4/') || url === '/fhir/R4' || url.startsWith('/oauth/token')
}
