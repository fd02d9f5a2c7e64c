// The console's build (issue 15; ADR-0022): `npm install` runs it through the `prepare` script.
// Output in console/dist (git-ignored), served by the server at /console (src/modules/console).
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  root,
  base: '/console/',
  // Preact's automatic JSX runtime, without a framework plugin.
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: { alias: { react: 'preact/compat', 'react-dom': 'preact/compat' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Everything from files of this origin: no inline script or data: module, no CDN.
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
  logLevel: 'warn',
})
