// /docs: the rendered API reference (Scalar, served from our own origin). The page loads its
// script from /docs/scalar.js and its document from /openapi.json; fonts, the AI agent, the
// developer toolbar, the request proxy and the hosted API client are off, and the CSP forbids any
// other origin — no request leaves the host (test/e2e/docs-page.test.ts checks it in Chromium).

import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

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

// Scalar 1.46.4 reaches scalar.com unless told not to; each key below closes one such path
// (test/e2e/docs-page.test.ts opens the page in Chromium and fails on any non-loopback request):
// - withDefaultFonts: false — no @font-face from fonts.scalar.com (system fonts instead);
// - agent.disabled: true — the "Ask AI" agent, on by default when the page is on localhost, loads
//   a curated API registry through proxy.scalar.com from api.scalar.com at start-up;
// - showDeveloperTools: 'never' — the developer toolbar, on by default on localhost, offers to
//   upload the document to api.scalar.com / registry.scalar.com for sharing;
// - proxyUrl: '' — "Test Request" calls our API directly (same origin, CSP connect-src 'self'),
//   never through proxy.scalar.com, which would see tokens and health data;
// - hideClientButton: true — no link out to the hosted API client (client.scalar.com);
// - telemetry: false — declared by the configuration schema (nothing in this release sends any).
const SCALAR_CONFIGURATION = {
  url: '/openapi.json',
  withDefaultFonts: false,
  agent: { disabled: true },
  showDeveloperTools: 'never',
  proxyUrl: '',
  hideClientButton: true,
  hideTestRequestButton: false,
  telemetry: false,
  layout: 'modern',
  theme: 'default',
}

function escapeAttribute(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('"', '&quot;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Vigil API reference</title>
</head>
<body>
<noscript>This reference needs JavaScript. The machine-readable description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script id="api-reference" data-url="/openapi.json" data-configuration="${escapeAttribute(JSON.stringify(SCALAR_CONFIGURATION))}"></script>
<script src="/docs/scalar.js"></script>
</body>
</html>
`

export function docsRoutes(): RoutePlugin {
  return async function docsRoutesPlugin(app) {
    const bundlePath = require.resolve('@scalar/api-reference/browser/standalone.js')
    const bundle = await readFile(bundlePath)

    app.get(
      '/docs',
      {
        config: { public: 'Human-readable API reference; the same content as /openapi.json' },
        schema: {
          tags: ['Operations'],
          summary: 'The rendered API reference (HTML)',
          response: {
            200: { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } },
          },
        },
      },
      async (_request, reply) =>
        reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', DOCS_CSP)
          .serializer(String)
          .send(PAGE),
    )

    app.get(
      '/docs/scalar.js',
      {
        config: { public: 'Static script of the API reference page' },
        schema: { hide: true },
      },
      async (_request, reply) =>
        reply
          .type('text/javascript; charset=utf-8')
          .header('cache-control', 'public, max-age=86400')
          .send(bundle),
    )
  }
}
