#!/usr/bin/env node
// Runs the test tiers with node's test runner (TypeScript through tsx). Usage:
//   node scripts/run-tests.mjs [unit|commands|integration|e2e|agent|interop|hostile ...]   (default: every tier)
// With CI set, it first checks that the build (run just before, by `npm test`) left the committed
// oclif.manifest.json unchanged: a stale manifest hides commands.
import {spawnSync} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

if (process.env.CI) {
  const diff = spawnSync('git', ['diff', '--quiet', '--', 'oclif.manifest.json'], {stdio: 'inherit'})
  if (diff.status === 1) {
    process.stderr.write("oclif.manifest.json is stale: the commands changed; run 'npm run build' and commit it\n")
    spawnSync('git', ['--no-pager', 'diff', '--stat', '--', 'oclif.manifest.json'], {stdio: 'inherit'})
    process.exit(1)
  }
  if (diff.status !== 0) {
    process.stderr.write(`cannot check oclif.manifest.json against the commit (git diff: ${diff.error?.message ?? `exit ${diff.status}`})\n`)
    process.exit(1)
  }
}

const tiers = process.argv.slice(2)
// The slow tiers first, the quick ones last: files start in this order, so the unit files fill the
// gaps while the last broker files finish, instead of one long interop file running alone at the end.
const roots = (tiers.length > 0 ? tiers : ['interop', 'hostile', 'e2e', 'agent', 'integration', 'commands', 'unit']).map((t) => join('test', t))

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return find(path)
    return name.endsWith('.test.ts') ? [path] : []
  })
}

const files = roots.flatMap((root) => find(root).sort())
if (files.length === 0) {
  process.stderr.write(`no test files under ${roots.join(', ')}\n`)
  process.exit(1)
}
// Test files at a time. Most of a file's time is waiting for brokers, workers and deadlines, not CPU:
// three at a time keep two cores busy (two left them about half idle). WFCTL_TEST_CONCURRENCY to change.
const CONCURRENCY = Number(process.env.WFCTL_TEST_CONCURRENCY ?? 3)
// A bound on the whole run: a test that leaves a handle open must fail CI, not hang it.
const LIMIT_MS = 20 * 60 * 1000
// The audit log is off for the whole suite (tests that check it move it to their own temp dir).
const env = {...process.env, WFCTL_AUDIT_LOG: 'off'}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${CONCURRENCY}`, ...files], {stdio: 'inherit', env, timeout: LIMIT_MS, killSignal: 'SIGKILL'})
if (result.error || result.signal) {
  process.stderr.write(`tests did not finish within ${LIMIT_MS / 60000} minutes (${result.error?.message ?? result.signal})\n`)
  process.exit(1)
}
process.exit(result.status ?? 1)
