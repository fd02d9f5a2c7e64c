// The CapabilityStatement (GET /fhir/R4/metadata), written from the resource table that drives
// search parsing (search.ts), so it lists exactly what is implemented.

import { VERSION } from '../version.ts'
import { FHIR_RESOURCES, RESULT_PARAMS } from './search.ts'

export interface SmartEndpoints {
  readonly authorize: string
  readonly token: string
  readonly revoke?: string | undefined
  readonly introspect?: string | undefined
  readonly register?: string | undefined
}

export function capabilityStatement(input: {
  base: string
  endpoints: SmartEndpoints
  date: string
}): Record<string, unknown> {
  const oauthUris = [
    { url: 'authorize', valueUri: input.endpoints.authorize },
    { url: 'token', valueUri: input.endpoints.token },
    ...(input.endpoints.revoke ? [{ url: 'revoke', valueUri: input.endpoints.revoke }] : []),
    ...(input.endpoints.introspect ? [{ url: 'introspect', valueUri: input.endpoints.introspect }] : []),
    ...(input.endpoints.register ? [{ url: 'register', valueUri: input.endpoints.register }] : []),
  ]
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: input.date,
    publisher: 'Vigil',
    kind: 'instance',
    software: { name: 'Vigil', version: VERSION },
    implementation: { description: 'Vigil FHIR R4 API', url: input.base },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: true,
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'SMART-on-FHIR',
                },
              ],
              text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)',
            },
          ],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: oauthUris,
            },
          ],
        },
        resource: [
          ...FHIR_RESOURCES.map((r) => ({
            type: r.type,
            ...(r.profile ? { profile: r.profile } : {}),
            interaction: r.interactions.map((code) => ({ code })),
            versioning: 'versioned-update',
            readHistory: false,
            updateCreate: false,
            conditionalCreate: r.conditionalCreate ?? false,
            conditionalRead: 'not-supported',
            conditionalUpdate: false,
            conditionalDelete: 'not-supported',
            ...(r.includes ? { searchInclude: [...r.includes] } : {}),
            searchParam: r.params.map((p) => ({
              name: p.name,
              type: p.type,
              ...(p.definition ? { definition: p.definition } : {}),
              documentation: p.documentation,
            })),
          })),
          // A clinician as the fhirUser of a SMART launch: read only (src/modules/fhir/practitioner.ts).
          {
            type: 'Practitioner',
            interaction: [{ code: 'read' }],
            versioning: 'no-version',
            readHistory: false,
            updateCreate: false,
            conditionalCreate: false,
            conditionalRead: 'not-supported',
            conditionalUpdate: false,
            conditionalDelete: 'not-supported',
          },
        ],
        searchParam: RESULT_PARAMS.filter((p) => p !== '_cursor' && p !== '_format' && p !== '_include').map(
          (name) => ({
            name,
            type: name === '_count' ? 'number' : 'special',
            documentation:
              name === '_count' ? 'Page size, 1–200 (default 50)' : 'date or -date (Observation)',
          }),
        ),
      },
    ],
  }
}
