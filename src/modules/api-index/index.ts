// The api-index module's public face: the index document at the root of each API version.

export { apiIndexRoutes } from './routes.ts'
