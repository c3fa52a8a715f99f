// Secrets: a broker password never shows, whole or in part, in any output — whatever the URL looks
// like (malformed, several URLs, odd characters in the password, password in the query), wherever
// it is given (-b, the environment, a positional argument by mistake), and in every output mode.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {runWfctl, type CliRun} from '../helpers/cli.js'
import {inBatches} from './support.js'
import {HOSTILE_URLS} from '../helpers/hostile-urls.js'

const CASES = HOSTILE_URLS

/** Every 5-character piece of each secret (a longer piece contains one). */
function fragments(secrets: string[]): string[] {
  const out = new Set<string>()
  for (const s of secrets) for (let i = 0; i + 5 <= s.length; i++) out.add(s.slice(i, i + 5))
  return [...out]
}

interface Invocation {
  label: string
  args: string[]
  env?: Record<string, string>
  /** Exit codes the contract allows here. */
  codes: number[]
}

function invocations(url: string): Invocation[] {
  return [
    {label: 'control ping -b URL', args: ['control', 'ping', '-b', url, '-t', '1', '--connect-timeout', '1'], codes: [2, 3]},
    {label: 'control ping -b URL --json', args: ['control', 'ping', '-b', url, '-t', '1', '--connect-timeout', '1', '--json'], codes: [2, 3]},
    // A dry run of a URL that parses prints the (masked) broker and exits 0.
    {label: 'control ping -b URL --dry-run', args: ['control', 'ping', '-b', url, '--dry-run'], codes: [0, 2]},
    {label: 'inspect ping -b URL --dry-run', args: ['inspect', 'ping', '-b', url, '--dry-run'], codes: [0, 2]},
    {label: 'inspect ping -b URL --dry-run --json', args: ['inspect', 'ping', '-b', url, '--dry-run', '--json'], codes: [0, 2]},
    {label: 'check -b URL --format nagios', args: ['check', '-b', url, '--format', 'nagios', '-t', '1', '--connect-timeout', '1'], codes: [2, 3]},
    {label: 'check -b URL --format prometheus', args: ['check', '-b', url, '--format', 'prometheus', '-t', '1', '--connect-timeout', '1'], codes: [2, 3]},
    {label: 'DEBUG=wfctl* control ping -b URL', args: ['control', 'ping', '-b', url, '-t', '1', '--connect-timeout', '1'], env: {DEBUG: 'wfctl*'}, codes: [2, 3]},
    {label: 'WFCTL_BROKER_URL=URL status', args: ['status', '-t', '1', '--connect-timeout', '1'], env: {WFCTL_BROKER_URL: url}, codes: [2, 3]},
    {label: 'wfctl URL', args: [url], codes: [2]},
    {label: 'wfctl control URL', args: ['control', url], codes: [2]},
    {label: 'wfctl control ping URL (an extra argument)', args: ['control', 'ping', url], codes: [2]},
  ]
}

function leaks(run: CliRun, pieces: string[]): string[] {
  const found: string[] = []
  for (const [stream, text] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
    // The first piece found is enough to tell (one line per stream, not one per piece).
    for (const piece of pieces) {
      const at = text.indexOf(piece)
      if (at < 0) continue
      found.push(`${stream} holds "${piece}": ${JSON.stringify(text.slice(Math.max(0, at - 50), at + 30))}`)
      break
    }
  }
  return found
}

describe('secrets never show', () => {
  for (const {url, secrets} of CASES) {
    it(`${JSON.stringify(url)}: no piece of the password in any output; exit codes as documented`, async () => {
      const pieces = fragments(secrets)
      const problems: string[] = []
      await inBatches(invocations(url), 3, async (inv) => {
        const run = await runWfctl(inv.args, {env: inv.env, timeoutMs: 20_000})
        for (const leak of leaks(run, pieces)) problems.push(`${inv.label}: ${leak}`)
        if (run.code === null || !inv.codes.includes(run.code)) {
          problems.push(`${inv.label}: exit ${run.code} (signal ${run.signal}), expected ${inv.codes.join(' or ')}; stderr ${JSON.stringify(run.stderr.slice(0, 200).replace(/S3c\S*/g, '<secret>'))}`)
        }
      })
      assert.deepEqual(problems.sort(), [])
    })
  }
})
