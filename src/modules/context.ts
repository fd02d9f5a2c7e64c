// What every business module is built from (HLD §10: dependencies passed in, never module
// singletons). The composition root (src/compose.ts) makes one and app.ts hands it to each
// module's route factory.

import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { AuditTrail } from '../audit/index.ts'
import type { Config } from '../config/index.ts'
import type { Keyring } from '../platform/crypto/keyring.ts'
import type { Database } from '../platform/db/index.ts'
import type { JobClaimer } from '../platform/db/scheduler.ts'
import type { Mailer } from '../platform/mail/index.ts'
import type { PolicyDecisionPoint } from '../security/policy/index.ts'
import type { DeviceService } from './devices/index.ts'
import type { DataKeyStore, PatientCipher, PatientService } from './patients/index.ts'
import type { UserService } from './users/index.ts'

export interface ModuleContext {
  readonly config: Config
  readonly db: Database
  readonly logger: Logger
  readonly redis?: Redis | undefined
  readonly audit: AuditTrail
  readonly keyring: Keyring
  readonly dataKeys: DataKeyStore
  readonly cipher: PatientCipher
  readonly patients: PatientService
  /** Accounts, roles and organisations: one service for the whole app (src/compose.ts). */
  readonly users: UserService
  /** The device registry: one service for its routes and the device authorization grant (src/compose.ts). */
  readonly devices: DeviceService
  readonly pdp: Required<PolicyDecisionPoint>
  readonly clock: () => Date
  /** Outgoing mail (invitations); absent → the care module invites without mailing, and logs it. */
  readonly mailer?: Mailer | undefined
  /** Periodic jobs run once per period across instances (ADR-0017); absent → every instance runs them. */
  readonly jobs?: JobClaimer | undefined
}
