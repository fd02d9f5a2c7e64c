// /console: the web console's single-page app (issue 15; ADR-0022). The build output of console/
// (Vite, made by `npm install` through the `prepare` script) is served from this origin: hashed
// assets under /console/assets/, and index.html for every page path so a reload or a deep link
// lands on the app, which then signs the user in. Anonymous by necessity — the page holds no
// data; everything it shows comes from /api/v2 and /fhir/R4 with the user's token — and under a
// CSP that allows scripts, styles and requests from this origin only, with no inline script.

import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyReply } from 'fastify'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

/** console/dist beside src/ (from src/modules/console or dist/modules/console alike). */
export const CONSOLE_BUILD_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../console/dist',
)

// No 'unsafe-inline' anywhere: the app sets styles through the CSSOM (element.style), which a
// style-src policy does not govern; its stylesheets are files of this origin.
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ')

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vigil console</title></head>
<body><main><h1>The console is not built</h1><p>Run <code>npm install</code> (or <code>npm run build:console</code>) in the checkout, then restart the server.</p></main></body></html>`

const PAGE_REASON =
  "The console page and its static assets: they carry no data; the app calls the API with the signed-in user's token"

export function consoleRoutes(options: { buildDir?: string } = {}): RoutePlugin {
  const buildDir = options.buildDir ?? CONSOLE_BUILD_DIR
  return async function consoleRoutesPlugin(app) {
    const indexPath = path.join(buildDir, 'index.html')
    const built = existsSync(indexPath)
    const index = built ? await readFile(indexPath, 'utf8') : NOT_BUILT
    // sendFile only (serve: false): the routes are ours, each with its access declaration.
    await app.register(fastifyStatic, {
      root: path.join(buildDir, 'assets'),
      serve: false,
      decorateReply: true,
    })

    const page = async (_request: unknown, reply: FastifyReply) =>
      reply
        .code(built ? 200 : 503)
        .type('text/html; charset=utf-8')
        .header('content-security-policy', CONSOLE_CSP)
        .header('cache-control', 'no-cache')
        .serializer(String)
        .send(index)
    const pageSchema = { hide: true }
    app.get('/console', { config: { public: PAGE_REASON }, schema: pageSchema }, async (_request, reply) =>
      reply.redirect('/console/', 302),
    )
    app.get(
      '/console/',
      {
        config: { public: PAGE_REASON },
        schema: {
          tags: ['Operations'],
          summary: 'The web console (HTML single-page app)',
          response: {
            200: { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } },
          },
        },
      },
      page,
    )
    // Page paths of the app (deep links, reloads, the OAuth callback): the same index.html.
    app.get<{ Params: { '*': string } }>(
      '/console/*',
      { config: { public: PAGE_REASON }, schema: pageSchema },
      async (request, reply) => {
        const rest = request.params['*']
        if (rest.startsWith('assets/')) {
          const file = rest.slice('assets/'.length)
          // Vite's file names: hashed, flat, no traversal.
          if (!/^[A-Za-z0-9._-]+$/.test(file) || file.startsWith('.')) return reply.callNotFound()
          reply
            .header('content-security-policy', CONSOLE_CSP)
            .header('cache-control', 'public, max-age=31536000, immutable')
          return reply.sendFile(file)
        }
        return page(request, reply)
      },
    )
  }
}
