// Users, roles, organisations and the tokens sent by mail: SQL only, parameters bound, rows
// turned into domain types. Times that decide anything (expiry, use) come from the caller's clock.

import type { Database, Queryable } from '../../platform/db/index.ts'
import { normalizeEmail } from './email-address.ts'
import { isRole, type Organisation, type RoleGrant, type User, type UserStatus } from './user.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const isUuid = (value: string): boolean => UUID.test(value)

interface UserRow {
  id: string
  email: string
  display_name: string | null
  status: UserStatus
  email_verified_at: Date | null
  password_changed_at: Date | null
  created_at: Date
  updated_at: Date
}
interface RoleRow {
  user_id: string
  role: string
  organisation_id: string | null
}

const COLUMNS = [
  'id',
  'email',
  'display_name',
  'status',
  'email_verified_at',
  'password_changed_at',
  'created_at',
  'updated_at',
]
const USER_COLUMNS = COLUMNS.map((c) => `u.${c}`).join(', ')

function toGrant(row: RoleRow): RoleGrant {
  if (!isRole(row.role)) throw new Error(`unknown role in user_roles: ${row.role}`)
  return { role: row.role, organisationId: row.organisation_id }
}

function toUser(row: UserRow, roles: readonly RoleGrant[]): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    status: row.status,
    emailVerifiedAt: row.email_verified_at,
    passwordChangedAt: row.password_changed_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    roles,
  }
}

export type AccountTokenKind = 'email_verification' | 'password_reset'
const TOKEN_TABLES: Record<AccountTokenKind, string> = {
  email_verification: 'email_verification_tokens',
  password_reset: 'password_reset_tokens',
}

export interface NewUser {
  readonly email: string
  readonly passwordHash: string | null
  readonly displayName: string | null
  readonly roles: readonly RoleGrant[]
  readonly emailVerifiedAt: Date | null
  readonly now: Date
}

export interface UserCredentials {
  readonly user: User
  readonly passwordHash: string | null
}

export interface UserRepository {
  findById(id: string): Promise<User | undefined>
  /** By the normalised form: case, width and surrounding spaces do not matter. */
  findByEmail(email: string): Promise<User | undefined>
  findCredentialsByEmail(email: string): Promise<UserCredentials | undefined>
  findPasswordHash(userId: string): Promise<string | null | undefined>
  /** The user and their roles in one transaction; undefined when the (normalised) email is taken. */
  create(input: NewUser): Promise<User | undefined>
  /** On `q` when given (a transaction of the caller's), else on the repository's database. */
  setPassword(userId: string, passwordHash: string, now: Date, q?: Queryable): Promise<void>
  /** Replaces the hash of the same password (new parameters): password_changed_at is untouched. */
  replacePasswordHash(userId: string, passwordHash: string, now: Date): Promise<void>
  /** On `q` when given (a transaction of the caller's). */
  setStatus(userId: string, status: UserStatus, now: Date, q?: Queryable): Promise<void>
  /** False when the user already held that role there. */
  addRole(userId: string, grant: RoleGrant): Promise<boolean>
  removeRole(userId: string, grant: RoleGrant): Promise<boolean>
  listRoles(userId: string): Promise<RoleGrant[]>
  /** Undefined when an organisation of that name exists. */
  createOrganisation(name: string): Promise<Organisation | undefined>
  findOrganisationByName(name: string): Promise<Organisation | undefined>
  findOrganisationById(id: string): Promise<Organisation | undefined>
  insertToken(
    kind: AccountTokenKind,
    token: { tokenHash: string; userId: string; expiresAt: Date; now: Date },
  ): Promise<void>
  /** The user of an unused, unexpired token, without using it. */
  peekToken(kind: AccountTokenKind, tokenHash: string, now: Date): Promise<string | undefined>
  /** Marks an email verification token used and the email verified, in one statement. */
  consumeEmailVerificationToken(tokenHash: string, now: Date): Promise<string | undefined>
  /** Uses a reset token, voids the user's other reset tokens and sets the password, in one
   *  statement: of two concurrent uses exactly one gets the user id. On `q` when given. */
  consumePasswordResetToken(
    tokenHash: string,
    passwordHash: string,
    now: Date,
    q?: Queryable,
  ): Promise<string | undefined>
}

async function rolesOf(q: Queryable, userId: string): Promise<RoleGrant[]> {
  const { rows } = await q.query<RoleRow>(
    'SELECT user_id, role, organisation_id FROM user_roles WHERE user_id = $1 ORDER BY created_at, role',
    [userId],
  )
  return rows.map(toGrant)
}

async function withRoles(q: Queryable, row: UserRow | undefined): Promise<User | undefined> {
  return row && toUser(row, await rolesOf(q, row.id))
}

async function insertRole(q: Queryable, userId: string, grant: RoleGrant): Promise<boolean> {
  // No conflict target: either partial unique index (global or per organisation) may apply.
  const { rowCount } = await q.query(
    'INSERT INTO user_roles (user_id, role, organisation_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [userId, grant.role, grant.organisationId],
  )
  return rowCount > 0
}

interface OrganisationRow {
  id: string
  name: string
  created_at: Date
}
const toOrganisation = (row: OrganisationRow | undefined): Organisation | undefined =>
  row && { id: row.id, name: row.name, createdAt: row.created_at }

export function createUserRepository(db: Database): UserRepository {
  return {
    async findById(id) {
      if (!isUuid(id)) return undefined
      const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = $1`, [id])
      return withRoles(db, rows[0])
    },

    async findByEmail(email) {
      const { rows } = await db.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users u WHERE u.email_normalized = $1`,
        [normalizeEmail(email)],
      )
      return withRoles(db, rows[0])
    },

    async findCredentialsByEmail(email) {
      const { rows } = await db.query<UserRow & { password_hash: string | null }>(
        `SELECT ${USER_COLUMNS}, u.password_hash FROM users u WHERE u.email_normalized = $1`,
        [normalizeEmail(email)],
      )
      const row = rows[0]
      const user = await withRoles(db, row)
      return row && user && { user, passwordHash: row.password_hash }
    },

    async findPasswordHash(userId) {
      if (!isUuid(userId)) return undefined
      const { rows } = await db.query<{ password_hash: string | null }>(
        'SELECT password_hash FROM users WHERE id = $1',
        [userId],
      )
      return rows[0]?.password_hash
    },

    create(input) {
      return db.transaction(async (tx) => {
        const now = input.now.toISOString()
        const { rows } = await tx.query<UserRow>(
          `INSERT INTO users (email, email_normalized, password_hash, display_name, email_verified_at, password_changed_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5::timestamptz, CASE WHEN $3::text IS NULL THEN NULL ELSE $6::timestamptz END, $6::timestamptz, $6::timestamptz)
           ON CONFLICT (email_normalized) DO NOTHING
           RETURNING ${COLUMNS.join(', ')}`,
          [
            input.email,
            normalizeEmail(input.email),
            input.passwordHash,
            input.displayName,
            input.emailVerifiedAt?.toISOString() ?? null,
            now,
          ],
        )
        const row = rows[0]
        if (!row) return undefined
        for (const grant of input.roles) await insertRole(tx, row.id, grant)
        return withRoles(tx, row)
      })
    },

    async setPassword(userId, passwordHash, now, q = db) {
      await q.query(
        'UPDATE users SET password_hash = $2, password_changed_at = $3::timestamptz, updated_at = $3::timestamptz WHERE id = $1',
        [userId, passwordHash, now.toISOString()],
      )
    },

    async replacePasswordHash(userId, passwordHash, now) {
      await db.query('UPDATE users SET password_hash = $2, updated_at = $3::timestamptz WHERE id = $1', [
        userId,
        passwordHash,
        now.toISOString(),
      ])
    },

    async setStatus(userId, status, now, q = db) {
      await q.query('UPDATE users SET status = $2, updated_at = $3::timestamptz WHERE id = $1', [
        userId,
        status,
        now.toISOString(),
      ])
    },

    addRole: (userId, grant) => insertRole(db, userId, grant),

    async removeRole(userId, grant) {
      const { rowCount } = await db.query(
        'DELETE FROM user_roles WHERE user_id = $1 AND role = $2 AND organisation_id IS NOT DISTINCT FROM $3::uuid',
        [userId, grant.role, grant.organisationId],
      )
      return rowCount > 0
    },

    async listRoles(userId) {
      return isUuid(userId) ? rolesOf(db, userId) : []
    },

    async createOrganisation(name) {
      const { rows } = await db.query<OrganisationRow>(
        'INSERT INTO organisations (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id, name, created_at',
        [name],
      )
      return toOrganisation(rows[0])
    },

    async findOrganisationByName(name) {
      const { rows } = await db.query<OrganisationRow>(
        'SELECT id, name, created_at FROM organisations WHERE name = $1',
        [name],
      )
      return toOrganisation(rows[0])
    },

    async findOrganisationById(id) {
      if (!isUuid(id)) return undefined
      const { rows } = await db.query<OrganisationRow>(
        'SELECT id, name, created_at FROM organisations WHERE id = $1',
        [id],
      )
      return toOrganisation(rows[0])
    },

    async insertToken(kind, token) {
      await db.query(
        `INSERT INTO ${TOKEN_TABLES[kind]} (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3::timestamptz, $4::timestamptz)`,
        [token.tokenHash, token.userId, token.expiresAt.toISOString(), token.now.toISOString()],
      )
    },

    async peekToken(kind, tokenHash, now) {
      const { rows } = await db.query<{ user_id: string }>(
        `SELECT user_id FROM ${TOKEN_TABLES[kind]} WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2::timestamptz`,
        [tokenHash, now.toISOString()],
      )
      return rows[0]?.user_id
    },

    async consumeEmailVerificationToken(tokenHash, now) {
      const { rows } = await db.query<{ id: string }>(
        `WITH consumed AS (
           UPDATE email_verification_tokens SET used_at = $2::timestamptz
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2::timestamptz
           RETURNING user_id
         )
         UPDATE users u SET email_verified_at = COALESCE(u.email_verified_at, $2::timestamptz), updated_at = $2::timestamptz
         FROM consumed WHERE u.id = consumed.user_id
         RETURNING u.id`,
        [tokenHash, now.toISOString()],
      )
      return rows[0]?.id
    },

    async consumePasswordResetToken(tokenHash, passwordHash, now, q = db) {
      // A reset link proves control of the mailbox, so it also verifies the email.
      const { rows } = await q.query<{ id: string }>(
        `WITH consumed AS (
           UPDATE password_reset_tokens SET used_at = $3::timestamptz
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $3::timestamptz
           RETURNING user_id
         ), voided AS (
           UPDATE password_reset_tokens t SET used_at = $3::timestamptz
           FROM consumed WHERE t.user_id = consumed.user_id AND t.used_at IS NULL AND t.token_hash <> $1
         )
         UPDATE users u SET password_hash = $2, password_changed_at = $3::timestamptz, updated_at = $3::timestamptz,
           email_verified_at = COALESCE(u.email_verified_at, $3::timestamptz)
         FROM consumed WHERE u.id = consumed.user_id
         RETURNING u.id`,
        [tokenHash, passwordHash, now.toISOString()],
      )
      return rows[0]?.id
    },
  }
}
