// /docs: the rendered API reference (Scalar, served from our own origin). The page loads its
// script from /docs/scalar.js and its document from /openapi.json; fonts, telemetry and the
// hosted API client are off, and the CSP forbids any other origin — no request leaves the host.

import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { FastifyPluginAsync } from 'fastify'

const require = createRequire(import.meta.url)

// Scalar injects its styles at run time, hence 'unsafe-inline' for styles only; scripts are 'self'.
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

const SCALAR_CONFIGURATION = {
  url: '/openapi.json',
  withDefaultFonts: false,
  hideClientButton: true,
  hideTestRequestButton: false,
  telemetry: false,
  showDeveloperTools: 'never',
  agent: { disabled: true },
  mcp: { disabled: true },
  layout: 'modern',
  theme: 'default',
}

function escapeAttribute(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Vigil API reference</title>
</head>
<body>
<noscript>This reference needs JavaScript. The machine-readable description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script id="api-reference" data-url="/openapi.json" data-configuration="${escapeAttribute(JSON.stringify(SCALAR_CONFIGURATION))}"></script>
<script src="/docs/scalar.js"></script>
</body>
</html>
`

export function docsRoutes(): FastifyPluginAsync {
  return async (app) => {
    const bundlePath = require.resolve('@scalar/api-reference/browser/standalone.js')
    const bundle = await readFile(bundlePath)

    app.get(
      '/docs',
      {
        config: { public: 'Human-readable API reference; the same content as /openapi.json' },
        schema: {
          tags: ['Operations'],
          summary: 'The rendered API reference (HTML)',
          response: { 200: { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
      async (_request, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_CSP).serializer(String).send(PAGE),
    )

    app.get(
      '/docs/scalar.js',
      {
        config: { public: 'Static script of the API reference page' },
        schema: { hide: true },
      },
      async (_request, reply) =>
        reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400').send(bundle),
    )
  }
}
