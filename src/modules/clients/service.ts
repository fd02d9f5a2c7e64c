// Client management for the admin API: list, register, remove. A confidential client's secret is
// generated here, returned once to the caller and stored only sealed (client-store.ts).

import { AppError, type ProblemFieldError } from '../../platform/http/errors.ts'
import { generateClientSecret, type ClientStore } from '../../security/oauth-server/index.ts'
import { presentClient, type ClientView } from './client.presenter.ts'
import { checkClientRegistration, clientMetadata, type ClientRegistration } from './client-registration.ts'

export interface CreatedClient {
  readonly client: ClientView
  /** Set for a confidential client only; never retrievable again. */
  readonly clientSecret: string | undefined
}

export interface ClientService {
  list(): Promise<ClientView[]>
  /** VALIDATION_FAILED with the reasons (pointers into the request body), CLIENT_ID_TAKEN when the id is taken. */
  create(registration: ClientRegistration): Promise<CreatedClient>
  /** NOT_FOUND when there is no such client. */
  remove(clientId: string): Promise<void>
  /** A new secret for a confidential client, returned once; the old one stops working at once. NOT_FOUND for an unknown or public client. */
  rotateSecret(clientId: string): Promise<string>
}

/** Problems found by checkClientRegistration, as pointers into the request body. */
function invalid(problems: readonly ProblemFieldError[]): AppError {
  return new AppError('VALIDATION_FAILED', 'The client registration is not valid', {
    errors: problems.map((p) => ({ pointer: `/body${p.pointer}`, detail: p.detail })),
  })
}

export function createClientService(deps: { store: ClientStore }): ClientService {
  const { store } = deps
  return {
    async list() {
      return (await store.list()).map(presentClient)
    },

    async create(registration) {
      const problems = checkClientRegistration(registration)
      if (problems.length > 0) throw invalid(problems)
      const clientSecret = registration.type === 'confidential' ? generateClientSecret() : undefined
      const metadata = clientMetadata(registration)
      const inserted = await store.insert({ clientId: registration.clientId, metadata, secret: clientSecret })
      if (!inserted) throw new AppError('CLIENT_ID_TAKEN')
      return { client: presentClient({ clientId: registration.clientId, metadata }), clientSecret }
    },

    async remove(clientId) {
      if (!(await store.remove(clientId))) throw new AppError('NOT_FOUND', 'No client with this id')
    },

    async rotateSecret(clientId) {
      const secret = generateClientSecret()
      if (!(await store.replaceSecret(clientId, secret)))
        throw new AppError('NOT_FOUND', 'No confidential client with this id')
      return secret
    },
  }
}
