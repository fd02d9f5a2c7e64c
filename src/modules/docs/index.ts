// The docs module's public face: the API reference pages (/docs) over the OpenAPI document.

export { docsRoutes, DOCS_CSP } from './routes.ts'
