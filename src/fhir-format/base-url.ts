// Where the FHIR R4 server answers: the base of every fullUrl, reference and capability URL.

export const FHIR_PATH = '/fhir/R4'

export const fhirBaseUrl = (publicUrl: string): string => `${publicUrl}${FHIR_PATH}`
