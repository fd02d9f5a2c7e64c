#!/usr/bin/env node
// The traceability table (docs/test-plan.md §Traceability): requirement → the tests that prove it.
//
// Requirements are the table rows of docs/requirements/srs.md whose first cell is an id
// (SRS-AREA-NNN); the second cell is the requirement. Tests are the titles of test(), it() and
// describe() calls in every *.test.ts under src/ and test/; a title proves the ids it contains,
// by convention in brackets at its start: test('[SRS-HTTP-001] unknown path answers 404 …').
// A skipped or todo test is listed, but proves nothing.
//
// Writes docs/traceability.md (sorted, no timestamps: it changes only when the mapping does) and
// exits 1 when a requirement has no test, or a test names an id the SRS does not have.
//
//   node scripts/trace.mjs            write the table, check coverage
//   node scripts/trace.mjs --check    write nothing; also fail when the committed table is missing
//                                     or out of date (CI runs this: .ci/run, SRS-TRACE-450)
//   node scripts/trace.mjs --root DIR run on another checkout (the script's own tests do)
// Plain Node, no dependencies.

import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const SRS_FILE = 'docs/requirements/srs.md'
const OUT_FILE = 'docs/traceability.md'
const TEST_DIRS = ['src', 'test']
const ID = /SRS-[A-Z]+-\d{3}/g
const ID_CELL = /^`?(SRS-[A-Z]+-\d{3})`?$/

function parseArgs(argv) {
  const args = { root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), check: false }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--check') args.check = true
    else if (argv[i] === '--root' && argv[i + 1]) args.root = path.resolve(argv[++i])
    else {
      console.error(
        `trace: unknown argument ${argv[i]}\nusage: node scripts/trace.mjs [--check] [--root DIR]`,
      )
      process.exit(2)
    }
  }
  return args
}

/** Cells of a Markdown table row, with escaped pipes kept inside their cell. */
function cells(line) {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim())
}

/** The requirements: [{ id, title, line }] in SRS order. Throws on a duplicate id. */
export function readRequirements(srsText) {
  const requirements = []
  const seen = new Map()
  srsText.split('\n').forEach((line, index) => {
    if (!line.trimStart().startsWith('|')) return
    const [first, second] = cells(line)
    const m = ID_CELL.exec(first ?? '')
    if (!m) return
    const id = m[1]
    if (seen.has(id))
      throw new Error(`${SRS_FILE}:${index + 1}: ${id} is already defined on line ${seen.get(id)}`)
    seen.set(id, index + 1)
    requirements.push({ id, title: (second ?? '').replace(/\\\|/g, '|'), line: index + 1 })
  })
  return requirements
}

function collectTestFiles(root) {
  const files = []
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue
      const full = path.join(dir, name)
      if (statSync(full).isDirectory()) walk(full)
      else if (name.endsWith('.test.ts')) files.push(full)
    }
  }
  for (const dir of TEST_DIRS) if (existsSync(path.join(root, dir))) walk(path.join(root, dir))
  return files
}

const STRING = /'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/.source
const COMMENT = /\/\/[^\n]*|\/\*[\s\S]*?\*\//.source
const CALL = /\b(test|it|describe)(?:\.(only|skip|todo))?\s*\(\s*/.source
// One pass over the source: comments and string literals are consumed whole, so a test() written
// inside a comment or inside a string (a fixture) is never taken for a call.
const TOKEN = new RegExp(`(${COMMENT})|(${STRING})|${CALL}`, 'g')
const TITLE = new RegExp(STRING, 'y')

/** The test titles in one file that name ids: [{ title, ids, pending, line }]. */
export function readTests(source) {
  const tests = []
  TOKEN.lastIndex = 0
  for (let m = TOKEN.exec(source); m !== null; m = TOKEN.exec(source)) {
    if (m[3] === undefined) continue // a comment or a string
    TITLE.lastIndex = TOKEN.lastIndex
    const literal = TITLE.exec(source)
    if (!literal) continue // a title that is not a literal
    TOKEN.lastIndex = TITLE.lastIndex
    const title = literal[0].slice(1, -1).replace(/\\(['"`\\])/g, '$1')
    const ids = [...new Set(title.match(ID) ?? [])].sort()
    if (ids.length === 0) continue
    // The options object, when there is one, sits between the title and the function.
    const options =
      /^\s*,\s*(\{[^{}]*\})/.exec(source.slice(TITLE.lastIndex, TITLE.lastIndex + 400))?.[1] ?? ''
    const pending = m[4] === 'skip' || m[4] === 'todo' || /\b(skip|todo)\s*:\s*(?!false\b)/.test(options)
    const line = source.slice(0, m.index).split('\n').length
    tests.push({ title, ids, pending, line })
  }
  return tests
}

const esc = (s) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
const byString = (a, b) => (a < b ? -1 : a > b ? 1 : 0)

export function trace(root) {
  const srsPath = path.join(root, SRS_FILE)
  if (!existsSync(srsPath)) throw new Error(`${SRS_FILE} not found under ${root}`)
  const requirements = readRequirements(readFileSync(srsPath, 'utf8'))
  if (requirements.length === 0) throw new Error(`${SRS_FILE} has no requirement rows (| SRS-AREA-NNN | … |)`)
  const known = new Set(requirements.map((r) => r.id))

  const byId = new Map(requirements.map((r) => [r.id, []]))
  const unknown = []
  let titled = 0
  for (const file of collectTestFiles(root)) {
    const rel = path.relative(root, file).split(path.sep).join('/')
    for (const t of readTests(readFileSync(file, 'utf8'))) {
      titled++
      for (const id of t.ids) {
        if (known.has(id)) byId.get(id).push({ file: rel, title: t.title, pending: t.pending })
        else unknown.push({ id, file: rel, line: t.line, title: t.title })
      }
    }
  }
  for (const list of byId.values())
    list.sort((a, b) => byString(a.file, b.file) || byString(a.title, b.title))
  unknown.sort((a, b) => byString(a.id, b.id) || byString(a.file, b.file) || a.line - b.line)

  const uncovered = requirements.filter((r) => !byId.get(r.id).some((t) => !t.pending))
  return { requirements, byId, unknown, uncovered, titled }
}

export function renderTable({ requirements, byId, unknown, uncovered, titled }) {
  const covered = requirements.length - uncovered.length
  const out = [
    '# Traceability: requirements → tests',
    '',
    `<!-- Generated by \`npm run trace\` (scripts/trace.mjs) from ${SRS_FILE} and the titles of the`,
    '     tests under src/ and test/. Do not edit by hand: change the SRS or the tests and run it again. -->',
    '',
    `Requirements: **${requirements.length}**; with a test: **${covered}**; without: **${uncovered.length}**. ` +
      `Tests naming a requirement: **${titled}**.`,
    '',
    'A test proves the requirement ids in its title; a skipped or todo test is listed as *(pending)* and proves nothing.',
    'See [the test plan](test-plan.md) and [the SRS](requirements/srs.md).',
    '',
    '| Requirement | Statement | Tests |',
    '| --- | --- | --- |',
  ]
  for (const r of requirements) {
    const tests = byId.get(r.id)
    const cell =
      tests.length === 0
        ? '**no test**'
        : tests.map((t) => `\`${t.file}\`: ${esc(t.title)}${t.pending ? ' *(pending)*' : ''}`).join('<br>')
    out.push(`| ${r.id} | ${esc(r.title)} | ${cell} |`)
  }
  if (uncovered.length > 0) {
    out.push('', '## Requirements without a test', '')
    for (const r of uncovered) out.push(`- ${r.id}: ${r.title}`)
  }
  if (unknown.length > 0) {
    out.push('', '## Tests naming an id the SRS does not define', '')
    for (const u of unknown) out.push(`- ${u.id} in \`${u.file}\` line ${u.line}: ${esc(u.title)}`)
  }
  return out.join('\n') + '\n'
}

function main() {
  const args = parseArgs(process.argv.slice(2))
  let result
  try {
    result = trace(args.root)
  } catch (err) {
    console.error(`trace: ${err.message}`)
    process.exit(1)
  }
  const table = renderTable(result)
  const outPath = path.join(args.root, OUT_FILE)
  const previous = existsSync(outPath) ? readFileSync(outPath, 'utf8') : undefined
  const stale = previous !== table
  // A check only reads: CI must see the committed table as it is, and leave the checkout untouched.
  if (args.check && stale) {
    console.error(
      `trace: ${OUT_FILE} is ${previous === undefined ? 'missing' : 'out of date'}; run npm run trace and commit it`,
    )
  }
  if (stale && !args.check) writeFileSync(outPath, table)

  const { requirements, uncovered, unknown, titled } = result
  console.log(
    `trace: ${requirements.length} requirements, ${requirements.length - uncovered.length} with a test, ` +
      `${uncovered.length} without; ${titled} test titles name a requirement → ${OUT_FILE}${stale ? (args.check ? ' (stale, not written)' : '') : ' (unchanged)'}`,
  )
  for (const r of uncovered) console.error(`trace: no test for ${r.id}: ${r.title}`)
  for (const u of unknown)
    console.error(`trace: ${u.file}:${u.line} names ${u.id}, which is not in ${SRS_FILE}`)
  process.exit(uncovered.length > 0 || unknown.length > 0 || (args.check && stale) ? 1 : 0)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
