// The patient's access report (issue 15): their accounting of disclosures from the audit trail.
export { accessReportRoutesV2 } from './routes.v2.ts'
export { groundsOf, type Grounds } from './service.ts'
