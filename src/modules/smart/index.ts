// The SMART module (issue 13; ADR-0018): EHR launch contexts, created by a signed-in clinician.
export { smartRoutesV2 } from './routes.v2.ts'
