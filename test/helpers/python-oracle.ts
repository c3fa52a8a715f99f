// Python as the oracle for the pattern validator: one run of Debian's interpreter (the one Celery
// workers use) over a batch of patterns. For each: whether re.compile / fnmatch take it (with any
// warning), and for those asked about, whether each sample name matches as a worker would match it
// (kombu: re.match for pcre, fnmatch.fnmatch for glob).
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {PYTHON} from './celery.js'

const ORACLE = String.raw`
import fnmatch, json, re, sys, warnings
data = json.load(open(sys.argv[1], encoding='utf-8'))
samples = data['samples']
def run(kind, item):
    p = item['p']
    r = {'ok': True}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            if kind == 'pcre':
                re.purge()
                re.compile(p)
            else:
                fnmatch._compile_pattern.cache_clear()
                fnmatch.fnmatch('', p)
        if caught:
            r['warning'] = str(caught[0].message)
    except Exception as e:
        r = {'ok': False, 'error': type(e).__name__ + ': ' + str(e)[:200]}
    if r['ok'] and item['match']:
        if kind == 'pcre':
            r['matches'] = [bool(re.match(p, s)) for s in samples]
        else:
            r['matches'] = [fnmatch.fnmatch(s, p) for s in samples]
    return r
out = {'version': sys.version.split()[0]}
for kind in ('pcre', 'glob'):
    out[kind] = [run(kind, item) for item in data[kind]]
json.dump(out, open(sys.argv[2], 'w', encoding='utf-8'))
`

export interface Verdict {
  ok: boolean
  error?: string
  warning?: string
  matches?: boolean[]
}

export interface OracleItem {
  p: string
  /** Whether to ask for the matches of every sample (for patterns wfctl accepts). */
  match: boolean
}

/** Runs the batch through Python once; temporary files are removed whatever happens. */
export function askPython(samples: string[], pcre: OracleItem[], glob: OracleItem[]): {version: string; pcre: Verdict[]; glob: Verdict[]} {
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-pattern-oracle-'))
  try {
    const input = join(dir, 'in.json')
    const output = join(dir, 'out.json')
    writeFileSync(input, JSON.stringify({samples, pcre, glob}))
    execFileSync(PYTHON, ['-c', ORACLE, input, output], {timeout: 30_000, stdio: ['ignore', 'ignore', 'inherit']})
    return JSON.parse(readFileSync(output, 'utf8'))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** mulberry32: a small PRNG with a fixed seed, so a generated corpus is the same on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
