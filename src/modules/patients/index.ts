export {
  createDataKeyStore,
  createPatientCipher,
  PatientErasedError,
  DATA_KEY_CACHE_MS,
  type DataKey,
  type DataKeyStore,
  type PatientCipher,
} from './data-keys.ts'
export {
  createPatientService,
  type Patient,
  type PatientService,
  type Demographics,
  type Identifier,
} from './service.ts'
export { createAccessFactSource } from './access-facts.repository.ts'
