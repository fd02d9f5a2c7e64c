// The repository stands alone (issue 14): nothing in it cites a document kept outside it — what
// the product contract, architecture and style notes said lives in docs/requirements/srs.md
// (§ Product contract), docs/design/hld.md and docs/design/conventions.md — and the README's
// layout section lists exactly the directories of src/, so a newcomer's map matches the ground.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Directories never scanned: installed packages, build output, local data, git's own files. */
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'var', 'coverage'])
/** Generated or third-party text that cites nothing of ours. */
const SKIP_FILES = new Set(['package-lock.json'])
const TEXT =
  /\.(ts|mjs|cjs|js|json|md|sql|ya?ml|sh|txt|html|css)$|^(Dockerfile|run|\.env\.example|\.gitignore|\.dockerignore)$/

function textFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name)
    const stat = statSync(full)
    if (stat.isDirectory()) {
      if (!SKIP_DIRS.has(name)) textFiles(full, out)
    } else if (!SKIP_FILES.has(name) && TEXT.test(name) && stat.size < 2_000_000) {
      out.push(full)
    }
  }
  return out
}

// What an outside citation looks like. The names are assembled so that this file does not match
// itself: the project's starting documents by file name or as a bare capitalised name ("as the
// ARCH… says"), a directory of shared notes beside the checkout, the development machine's own
// tree, and the directory of the source articles.
const DOCS = ['SP' + 'EC', 'ARCHIT' + 'ECTURE', 'STY' + 'LE']
const OUTSIDE: readonly { readonly what: string; readonly pattern: RegExp }[] = [
  { what: 'an outside document by file name', pattern: new RegExp(`\\b(?:${DOCS.join('|')})\\.md\\b`) },
  { what: 'an outside document by name', pattern: new RegExp(`(?<![\\w-])(?:${DOCS.join('|')})(?![\\w-])`) },
  {
    what: 'a shared directory beside the checkout',
    pattern: new RegExp(`(?:^|[\\s(\`'"=])(?:\\.\\./)*${'sha' + 'red'}/`, 'm'),
  },
  {
    what: 'a path on the development machine',
    pattern: new RegExp(`(?:^|[\\s(\`'"=])/${'wo' + 'rk'}/`, 'm'),
  },
  {
    what: 'the source articles',
    pattern: new RegExp(`\\b${'see' + 'ds'}/|\\b${'se' + 'ed'} articles?\\b`, 'i'),
  },
]

test('[SRS-ARCH-450] no file of the repository cites a document kept outside it', () => {
  const files = textFiles(ROOT)
  assert.ok(files.length > 200, `scanned only ${files.length} files: the walk is broken`)
  for (const must of ['README.md', 'docs/requirements/srs.md', 'src/app.ts', 'eslint.config.js', '.ci/run']) {
    assert.ok(files.includes(path.join(ROOT, must)), `${must} is scanned`)
  }
  const found: string[] = []
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n')
    lines.forEach((line, i) => {
      for (const { what, pattern } of OUTSIDE) {
        if (pattern.test(line))
          found.push(`${path.relative(ROOT, file)}:${i + 1}: ${what}: ${line.trim().slice(0, 140)}`)
      }
    })
  }
  assert.deepEqual(
    found,
    [],
    `cite the repository's own documents instead (docs/requirements/srs.md#product-contract, docs/design/hld.md, docs/design/conventions.md):\n${found.join('\n')}`,
  )
})

test('[SRS-ARCH-450] the outside-citation patterns catch each kind of citation and pass the repository\u2019s own', () => {
  const hit = (line: string) => OUTSIDE.filter(({ pattern }) => pattern.test(line)).map(({ what }) => what)
  assert.deepEqual(hit(`// see ${DOCS[0]}.md, non-negotiables`), [
    'an outside document by file name',
    'an outside document by name',
  ])
  assert.deepEqual(hit(`// (${DOCS[1]}: pitfalls)`), ['an outside document by name'])
  assert.deepEqual(hit(`// config is parsed once (${DOCS[2]} §5)`), ['an outside document by name'])
  assert.deepEqual(hit(`# Runs from a fresh clone (${'sha' + 'red'}/ beside it)`), [
    'a shared directory beside the checkout',
  ])
  assert.deepEqual(hit(`read ../${'sha' + 'red'}/notes.txt`), ['a shared directory beside the checkout'])
  assert.deepEqual(hit(`cat /${'wo' + 'rk'}/main/x`), ['a path on the development machine'])
  assert.deepEqual(hit(`(see the ${'se' + 'ed'} article; ADR-0005)`), ['the source articles'])
  for (const fine of [
    "| 'KEYRING_INVALID_SPEC' // a code name, not a citation",
    '// docs/design/hld.md §10: dependencies passed in',
    'node_modules/@vueuse/shared/index.js',
    'vigil seed-demo --password pw',
    'https://example.org/specs/style.css',
  ]) {
    assert.deepEqual(hit(fine), [], fine)
  }
})

/** Directories under src/, down to three levels below the repository root (`find src -maxdepth 3 -type d`). */
function srcTree(): string[] {
  const out: string[] = []
  const walk = (rel: string, depth: number) => {
    out.push(rel)
    if (depth === 3) return
    for (const name of readdirSync(path.join(ROOT, rel)).sort()) {
      if (name.startsWith('.')) continue
      if (statSync(path.join(ROOT, rel, name)).isDirectory()) walk(`${rel}/${name}`, depth + 1)
    }
  }
  walk('src', 0)
  return out.sort()
}

/** Directories the README's layout block lists: `name/` at the start of a line, nested by two-space indentation. */
function layoutDirectories(readme: string): string[] {
  const heading = readme.indexOf('\n## Layout\n')
  assert.ok(heading >= 0, 'the README has a "## Layout" section')
  const open = readme.indexOf('\n```', heading)
  const close = readme.indexOf('\n```', open + 4)
  assert.ok(open > 0 && close > open, 'the layout section has a code block')
  const stack: string[] = []
  const out: string[] = []
  for (const line of readme.slice(readme.indexOf('\n', open + 1) + 1, close).split('\n')) {
    const m = /^( *)([A-Za-z0-9_.-]+)\/(?:\s|$)/.exec(line)
    if (!m) continue
    const depth = (m[1] ?? '').length / 2
    assert.ok(
      Number.isInteger(depth) && depth <= stack.length,
      `README layout: "${line.trim()}" is not indented by two spaces under its parent`,
    )
    stack.length = depth
    stack.push(m[2] ?? '')
    out.push(stack.join('/'))
  }
  return out.sort()
}

test('[SRS-ARCH-451] the README layout lists exactly the directories of src/ down to three levels', () => {
  const documented = layoutDirectories(readFileSync(path.join(ROOT, 'README.md'), 'utf8')).filter(
    (d) => d === 'src' || d.startsWith('src/'),
  )
  const actual = srcTree()
  assert.ok(
    actual.includes('src/platform/http') && actual.includes('src/modules'),
    'the tree walk finds src/',
  )
  const missing = actual.filter((d) => !documented.includes(d))
  const stale = documented.filter((d) => !actual.includes(d))
  assert.deepEqual(
    { missing, stale },
    { missing: [], stale: [] },
    'README.md "## Layout": add a line for each missing directory and remove each stale one (two-space indentation under its parent)',
  )
})

test('[SRS-ARCH-451] the layout parser nests by indentation and ignores files and wrapped description lines', () => {
  const readme = [
    '# X',
    '',
    '## Layout',
    '',
    '```',
    'src/',
    '  main.ts   entry',
    '  modules/  components, each',
    '            with index.ts',
    '    care/   care',
    '      deep/ deeper',
    '  cli/      the command',
    'test/',
    '  e2e/      flows',
    'bin/vigil.mjs  entry',
    '```',
    '',
  ].join('\n')
  assert.deepEqual(layoutDirectories(readme), [
    'src',
    'src/cli',
    'src/modules',
    'src/modules/care',
    'src/modules/care/deep',
    'test',
    'test/e2e',
  ])
  assert.throws(
    () => layoutDirectories(['', '## Layout', '```', 'src/', '     odd/ three spaces', '```'].join('\n')),
    /not indented by two spaces/,
  )
})
