// The users module seen through the authorization server's port (AccountDirectory).

import type { Database } from '../../platform/db/index.ts'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { AccountDirectory, DirectoryAccount, Role } from '../../security/oauth-server/index.ts'
import { createUserRepository } from '../users/repository.ts'
import type { User } from '../users/user.ts'

function toDirectoryAccount(user: User): DirectoryAccount {
  return {
    id: user.id,
    email: user.email,
    emailVerified: user.emailVerifiedAt !== null,
    displayName: user.displayName,
    status: user.status,
    roles: [...new Set(user.roles.map((g) => g.role as Role))],
  }
}

export function createAccountDirectory(deps: { db: Database; keyring: Keyring }): AccountDirectory {
  const users = createUserRepository(deps.db)
  const pending = (): never => {
    throw new Error('password and second-factor checks are wired when the users service lands')
  }
  return {
    async findAccount(id) {
      const user = await users.findById(id)
      return user && toDirectoryAccount(user)
    },
    checkPassword: async () => pending(),
    verifyTotp: async () => pending(),
    startTotpEnrolment: async () => pending(),
    confirmTotpEnrolment: async () => pending(),
  }
}
