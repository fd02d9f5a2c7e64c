// Which statements go named (ADR-0037): a text the process has sent before, up to a bounded set.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { StatementNames } from './postgres.ts'

test('[SRS-PERF-604] a statement is named from its second sending on, always with the same name, one name a text', () => {
  const names = new StatementNames()
  assert.equal(names.nameFor('SELECT $1::int'), undefined, 'the first time: unnamed')
  const name = names.nameFor('SELECT $1::int')
  assert.match(name ?? '', /^vigil_[0-9a-f]{32}$/)
  assert.equal(names.nameFor('SELECT $1::int'), name)
  names.nameFor('SELECT $1::text')
  const other = names.nameFor('SELECT $1::text')
  assert.ok(other && other !== name)
  assert.equal(names.size, 2)
})

test('[SRS-PERF-604] at most `max` texts are ever named; texts sent once are counted in a bounded map that starts afresh', () => {
  const names = new StatementNames(3, 2, 10)
  for (let i = 0; i < 5; i++) {
    names.nameFor(`SELECT ${i} + $1`)
    names.nameFor(`SELECT ${i} + $1`)
  }
  assert.equal(names.size, 3)
  assert.equal(names.nameFor('SELECT 4 + $1'), undefined, 'past the bound: unnamed, however often')
  assert.ok(names.nameFor('SELECT 0 + $1'), 'a named text keeps its name')

  const counted = new StatementNames(100, 2, 10)
  for (let i = 0; i < 10; i++) counted.nameFor(`SELECT ${i} * $1`) // fills the count
  counted.nameFor('SELECT 99 * $1') // the eleventh text: the count starts afresh
  assert.equal(counted.nameFor('SELECT 0 * $1'), undefined, 'its first sending was forgotten')
  assert.ok(counted.nameFor('SELECT 99 * $1'), 'counted after the fresh start')
})
