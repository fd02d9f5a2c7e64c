// Server-rendered pages: plain HTML that works without JavaScript. Every interpolated value goes
// through escapeHtml; templates are functions, not strings assembled from request input.

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

/** A value already escaped (or a fragment built from escaped parts). */
export class SafeHtml {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? ''
  values.forEach((value, i) => {
    const rendered = Array.isArray(value)
      ? value.map((v) => (v instanceof SafeHtml ? v.html : escapeHtml(v))).join('')
      : value instanceof SafeHtml
        ? value.html
        : escapeHtml(value)
    out += rendered + (strings[i + 1] ?? '')
  })
  return new SafeHtml(out)
}

export function page(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Vigil</title>
<link rel="stylesheet" href="/assets/vigil.css">
<link rel="icon" href="data:,">
</head>
<body>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.html
}

/**
 * What CSP's form-action must allow for a browser to reach this redirect URI: its origin (http and
 * https), or its scheme (a native app's); nothing for a value that is not a URL.
 */
export function formActionTargetOf(redirectUri: string): string | undefined {
  const u = URL.parse(redirectUri)
  if (!u) return undefined
  return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : u.protocol
}

/** CSP for our pages: nothing but our own stylesheet; forms may post here and (through the
 * redirects that follow) reach the client's redirect URI, which must therefore be allowed. */
export function pageCsp(formTargets: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    `form-action 'self'${formTargets.map((t) => ` ${t}`).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ')
}
