// The console module's public face: the pages' routes and the console's built-in OAuth client.
export { consoleRoutes, CONSOLE_CSP, CONSOLE_BUILD_DIR } from './routes.ts'
export {
  CONSOLE_CLIENT_ID,
  consoleClientMetadata,
  consoleRedirectUri,
  withConsoleClient,
} from './console-client.ts'
