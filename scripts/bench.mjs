#!/usr/bin/env node
// npm run bench: wfctl against the `celery` CLI on the same workers, in one run, with the ratios.
// It reports; it never fails on a goal. Needs what `npm test` needs (Redis, python3-celery) and owns
// Redis DB 15 while it runs (BENCH_DB to change it). BENCH_RUNS sets the runs per measurement (5),
// BENCH_STARTUP_RUNS the runs of each start-up row (21). `node scripts/bench.mjs --startup` runs the
// start-up table only (with the three real workers it needs; twice where NODE_EXTRA_CA_CERTS is set,
// with it and without it; the last row is the floor, scripts/floor-ping.cjs). `--events` runs the fleet-scale rows
// only: `wfctl events` and `wfctl top` (in tmux) under 10,000 workers' heartbeats from
// scripts/event-flood.mjs (BENCH_EVENTS_SECONDS per row, 20), beside `celery events --dump`.
import {spawn, spawnSync} from 'node:child_process'
import {closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(ROOT, 'bin', 'run.js')
const PYTHON = process.env.WFCTL_TEST_PYTHON ?? '/usr/bin/python3'
const FIXTURES = join(ROOT, 'test', 'interop', 'fixtures')
const DB = Number(process.env.BENCH_DB ?? 15)
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 21)
const STARTUP_ONLY = process.argv.includes('--startup')
// `--events`: only the fleet-scale rows of `wfctl events` and `wfctl top` under an event flood.
const EVENTS_ONLY = process.argv.includes('--events')
const EVENTS_SECONDS = Number(process.env.BENCH_EVENTS_SECONDS ?? 20)
const URL = `redis://127.0.0.1:6379/${DB}`
const HOST = hostname()
const MiB = 1024 * 1024

// Runs a command under Python's getrusage(RUSAGE_CHILDREN): wall time, CPU time and peak RSS of
// exactly that process tree, measured the same way for wfctl and for celery.
const MEASURE = `
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": r.ru_utime + r.ru_stime, "rss": r.ru_maxrss * 1024, "code": p.returncode,
                  "stdout": p.stdout.decode("utf-8", "replace"), "stderr": p.stderr.decode("utf-8", "replace")[-2000:]}))
`

function measure(argv, env = process.env) {
  const r = spawnSync(PYTHON, ['-c', MEASURE, ...argv], {cwd: FIXTURES, encoding: 'utf8', maxBuffer: 64 * MiB, env: {...env, NO_COLOR: '1'}})
  if (r.status !== 0) throw new Error(`measuring ${argv.join(' ')} failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

const wfctl = (...args) => [process.execPath, BIN, ...args, '-b', URL]
const celery = (...args) => [PYTHON, '-m', 'celery', '-b', URL, ...args]

/** How many nodes an answer names: wfctl --json's replies, wfctl's table rows, celery's "->  node: OK" lines, or floor-ping's line. */
function repliesOf(run) {
  try {
    return Object.keys(JSON.parse(run.stdout).replies).length
  } catch {}
  const celeryLines = (run.stdout.match(/^->\s+\S+: OK/gm) ?? []).length
  // scripts/floor-ping.cjs prints `node: {"ok": ...}`.
  return celeryLines || (run.stdout.match(/^\S+\s+OK\s+\d+ ms/gm) ?? []).length || (run.stdout.match(/^\S+: \{"ok":/gm) ?? []).length
}

function median(values) {
  const s = [...values].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Runs both tools RUNS times, interleaved so that both see the same machine; medians. */
function compare(name, wf, ce, expectReplies, runs = RUNS) {
  const results = {wfctl: [], celery: []}
  measure(wf) // warm-up: file system caches, broker connections
  measure(ce)
  for (let i = 0; i < runs; i++) {
    for (const [tool, argv] of [['wfctl', wf], ['celery', ce]]) {
      const run = measure(argv)
      results[tool].push({...run, replies: repliesOf(run)})
    }
  }
  const summary = (tool) => ({
    wall: median(results[tool].map((r) => r.wall)),
    cpu: median(results[tool].map((r) => r.cpu)),
    rss: Math.max(...results[tool].map((r) => r.rss)),
    replies: Math.min(...results[tool].map((r) => r.replies)),
    codes: [...new Set(results[tool].map((r) => r.code))],
  })
  const row = {name, expectReplies, wfctl: summary('wfctl'), celery: summary('celery')}
  process.stderr.write(`  ${name}: wfctl ${row.wfctl.wall.toFixed(3)} s, celery ${row.celery.wall.toFixed(3)} s\n`)
  return row
}

/**
 * Start-up: what a probe costs is mostly the process's own start. Runs `node -e 0` and wfctl's
 * cheapest invocations round-robin, STARTUP_RUNS times each after one warm-up round, so that all
 * rows see the same machine; medians of wall and CPU time, the highest peak RSS, ratios to node.
 * The last row is the floor: the same ping in a few dozen lines of plain Node
 * (scripts/floor-ping.cjs), the least any Node program pays for it.
 *
 * NODE_EXTRA_CA_CERTS makes Node read and parse those certificates before any JavaScript runs, in
 * every row alike: where it is set the table is made twice, as the environment is and without it,
 * because the fixed cost flatters every ratio.
 */
function startup(node) {
  const tables = [{label: 'as this environment is', env: process.env}]
  if (process.env.NODE_EXTRA_CA_CERTS) {
    tables[0].label = `with this environment's NODE_EXTRA_CA_CERTS (${process.env.NODE_EXTRA_CA_CERTS})`
    const {NODE_EXTRA_CA_CERTS: _, ...env} = process.env
    tables.push({label: 'without NODE_EXTRA_CA_CERTS', env})
  }
  return tables.map((table) => ({...table, rows: startupTable(node, table.env)}))
}

function startupTable(node, env) {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
  // The dry run of a ping: control ping's if it has --dry-run, else inspect ping's (the same request).
  const dryPing = manifest.commands['control:ping']?.flags?.['dry-run'] ? ['control', 'ping'] : ['inspect', 'ping']
  const rows = [
    {name: '`node -e 0`', argv: [process.execPath, '-e', '0'], base: true},
    {name: '`wfctl --version`', argv: [process.execPath, BIN, '--version'], goal: {wall: 1.3}},
    {name: `\`wfctl ${dryPing.join(' ')} -d NODE --dry-run\``, argv: wfctl(...dryPing, '-d', node, '--dry-run')},
    {name: '`wfctl control ping -d NODE` (1 of 3 real workers)', argv: wfctl('control', 'ping', '-d', node), goal: {wall: 1.5, rss: 1.3}, expectReplies: 1},
    {name: 'floor: the same ping in plain Node (scripts/floor-ping.cjs)', argv: [process.execPath, join(ROOT, 'scripts', 'floor-ping.cjs'), URL, node], expectReplies: 1},
  ]
  for (const row of rows) measure(row.argv, env)
  const runs = rows.map(() => [])
  for (let i = 0; i < STARTUP_RUNS; i++) rows.forEach((row, j) => runs[j].push(measure(row.argv, env)))
  const out = rows.map((row, j) => ({
    ...row,
    wall: median(runs[j].map((r) => r.wall)),
    cpu: median(runs[j].map((r) => r.cpu)),
    rss: Math.max(...runs[j].map((r) => r.rss)),
    codes: [...new Set(runs[j].map((r) => r.code))],
    replies: Math.min(...runs[j].map((r) => repliesOf(r))),
  }))
  for (const row of out) process.stderr.write(`  start-up ${row.name}: ${row.wall.toFixed(3)} s, ${fmt.mib(row.rss)}\n`)
  return out
}

function startProcess(argv, readyPattern, timeoutMs = 60_000) {
  const child = spawn(argv[0], argv.slice(1), {cwd: FIXTURES, env: {...process.env, WFCTL_TEST_BROKER: URL, PYTHONDONTWRITEBYTECODE: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in time: ${argv.join(' ')}\n${output}`)), timeoutMs)
    const onData = (d) => {
      output += d
      if (readyPattern.test(output)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${argv.join(' ')}\n${output}`)))
  })
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 15_000).unref()
    })
  return {child, ready, stop}
}

/** Peak RSS of a running process (VmHWM), for the simulated fleet's own footprint. */
function peakRss(pid) {
  const r = spawnSync('cat', [`/proc/${pid}/status`], {encoding: 'utf8'})
  const m = /VmHWM:\s+(\d+) kB/.exec(r.stdout ?? '')
  return m ? Number(m[1]) * 1024 : NaN
}

const fmt = {
  s: (v) => `${v.toFixed(3)} s`,
  mib: (v) => `${(v / MiB).toFixed(0)} MiB`,
  ms: (v) => `${(v * 1000).toFixed(0)} ms`,
  x: (v) => `${v.toFixed(2)}x`,
}

async function main() {
  const dbsize = spawnSync('redis-cli', ['-n', String(DB), 'DBSIZE'], {encoding: 'utf8'})
  if (dbsize.status !== 0) throw new Error(`no Redis on 127.0.0.1:6379: ${dbsize.stderr}`)
  if (Number(dbsize.stdout.trim()) !== 0) throw new Error(`Redis DB ${DB} is not empty: the benchmark needs it to itself (set BENCH_DB)`)
  if (EVENTS_ONLY) {
    process.stdout.write(eventsReport(await eventsBench()))
    return
  }
  const rows = []
  let startupRows = []
  const workers = ['bench1', 'bench2', 'bench3'].map((n) =>
    startProcess([PYTHON, '-m', 'celery', '-A', 'wfctl_tasks', 'worker', '-n', `${n}@${HOST}`, '-P', 'solo', '--without-heartbeat', '--without-gossip', '--without-mingle', '-l', 'warning'], /ready\./, 60_000),
  )
  // Celery logs "ready." at info level only: wait for the nodes to answer instead.
  await Promise.race([Promise.all(workers.map((w) => w.ready)), waitForNodes(3)])
  let sims = []
  try {
    if (STARTUP_ONLY) {
      process.stderr.write(`benchmark: start-up only, ${STARTUP_RUNS} runs per row; Redis DB ${DB}\n`)
      startupRows = startup(`bench2@${HOST}`)
    } else {
      process.stderr.write(`benchmark: ${RUNS} runs per measurement, medians; Redis DB ${DB}\n`)
      rows.push(compare('fleet-wide ping, 3 real workers (--expect 3 vs celery inspect ping)', wfctl('control', 'ping', '--expect', '3', '--json'), celery('inspect', 'ping'), 3))
      rows.push(compare('targeted ping, 1 of 3 real workers (-d)', wfctl('control', 'ping', '-d', `bench2@${HOST}`, '--json'), celery('inspect', 'ping', '-d', `bench2@${HOST}`), 1))
      startupRows = startup(`bench2@${HOST}`)
      await Promise.all(workers.map((w) => w.stop()))
      {
        // One node answering with a 50 MB reply: reading it must be linear, and --timeout a deadline.
        const big = startProcess([process.execPath, join(ROOT, 'scripts', 'big-reply-worker.mjs'), URL, `big@${HOST}`, String(50 * 1000 * 1000)], /ready/, 30_000)
        sims.push(big)
        await big.ready
        rows.push(compare('one 50 MB reply (-d, -t 20)', wfctl('control', 'ping', '-d', `big@${HOST}`, '-t', '20', '--json'), celery('inspect', 'ping', '-d', `big@${HOST}`, '-t', '20'), 1, Math.min(RUNS, 3)))
        await big.stop()
      }
      for (const n of [1000, 10000]) {
        const sim = startProcess([process.execPath, BIN, 'simulate', '--workers', String(n), '--name-prefix', 'sim', '--hostname', 'bench', '--heartbeat', '3600', '-b', URL], /simulated workers? \(/, 120_000)
        sims.push(sim)
        await sim.ready
        const runs = n >= 10000 ? Math.max(3, Math.min(RUNS, 3)) : RUNS
        const row = compare(`ping across ${n.toLocaleString('en')} simulated workers`, wfctl('control', 'ping', '--expect', String(n), '-t', '20', '--json'), celery('inspect', 'ping', '-t', '1'), n, runs)
        row.simulatorRss = peakRss(sim.child.pid)
        rows.push(row)
        if (n >= 10000) {
          // The same answer as a table: rendering must cost about what printing JSON does.
          rows.push(compare(`${n.toLocaleString('en')}-row table against --json (wfctl only)`, wfctl('control', 'ping', '--expect', String(n), '-t', '20'), wfctl('control', 'ping', '--expect', String(n), '-t', '20', '--json'), n, runs))
          rows.at(-1).tools = ['table', '--json']
        }
        await sim.stop()
      }
    }
  } finally {
    await Promise.all([...workers, ...sims].map((w) => w.stop()))
    // The DB was empty when we started: leave it so (the workers' bindings and queues).
    spawnSync('redis-cli', ['-n', String(DB), 'FLUSHDB'])
  }
  report(rows, startupRows)
  if (!STARTUP_ONLY) process.stdout.write(eventsReport(await eventsBench()))
}

// ─── fleet scale: `wfctl events` and `wfctl top` under 10,000 workers' heartbeats ───────────────

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim()) || 100
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** CPU seconds (user + system, every thread) a process has used so far (/proc/PID/stat). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / CLK_TCK
}

/**
 * Writes a second to the process's terminal, counted by strace over `seconds` (after the CPU was
 * measured: tracing slows a process down). A full-screen view writes each frame in one call, so
 * this is its redraws a second. NaN without strace.
 */
async function terminalWrites(pid, seconds) {
  const ttys = new Set()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('/dev/pts/')) ttys.add(fd)
    } catch {}
  }
  const trace = spawn('strace', ['-f', '-qq', '-e', 'trace=write,writev', '-e', 'signal=none', '-p', String(pid)], {stdio: ['ignore', 'ignore', 'pipe']})
  let out = ''
  trace.stderr.on('data', (d) => (out += d))
  const ended = new Promise((resolve) => {
    trace.on('error', () => resolve(false))
    trace.on('exit', () => resolve(true))
  })
  await sleep(seconds * 1000)
  trace.kill('SIGINT')
  if (!(await ended) || !/write/.test(out)) return NaN
  return [...out.matchAll(/\bwritev?\((\d+),/g)].filter((m) => ttys.has(m[1])).length / seconds
}

/** CPU of a running process as a share of one core, over `seconds`. */
async function sample(pid, seconds) {
  const [c0, t0] = [cpuSeconds(pid), performance.now()]
  await sleep(seconds * 1000)
  const [c1, t1] = [cpuSeconds(pid), performance.now()]
  return {cpu: (c1 - c0) / ((t1 - t0) / 1000)}
}

/** Runs argv with stdout to /dev/null (or counted, with `count`), measures it after a warm-up, then SIGINTs it. */
async function underFlood(argv, env, {count = false, warmupMs = 3000} = {}) {
  const devnull = openSync('/dev/null', 'w')
  const child = spawn(argv[0], argv.slice(1), {cwd: FIXTURES, env: {...process.env, WFCTL_AUDIT_LOG: 'off', PYTHONDONTWRITEBYTECODE: '1', ...env}, stdio: ['ignore', count ? 'pipe' : devnull, 'pipe']})
  closeSync(devnull)
  let lines = 0
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  if (count) child.stdout.on('data', (d) => {
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines += 1
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)))
  await sleep(warmupMs)
  const before = lines
  const measured = await sample(child.pid, EVENTS_SECONDS)
  const perSecond = (lines - before) / EVENTS_SECONDS
  child.kill('SIGINT')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  const code = await exited
  clearTimeout(timer)
  return {...measured, perSecond: count ? perSecond : undefined, code, stderr: stderr.slice(-500)}
}

/** `wfctl top` in a real terminal (a tmux pane of its own), measured while it redraws. */
async function topInTmux(prefix, cols = 120, rows = 40) {
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-bench-tmux-'))
  const socket = join(dir, 'socket')
  const tmux = (...args) => spawnSync('tmux', ['-S', socket, ...args], {encoding: 'utf8'})
  const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`
  const cmd = ['env', 'WFCTL_AUDIT_LOG=off', process.execPath, BIN, 'top', '-b', URL, '--redis-key-prefix', prefix].map(q).join(' ')
  try {
    const started = tmux('new-session', '-d', '-s', 'b', '-x', String(cols), '-y', String(rows), `exec ${cmd}`)
    if (started.status !== 0) throw new Error(`tmux: ${started.stderr}`)
    const pid = Number(tmux('list-panes', '-t', 'b', '-F', '#{pane_pid}').stdout.trim())
    await sleep(4000)
    const measured = await sample(pid, EVENTS_SECONDS)
    const screen = tmux('capture-pane', '-p', '-t', 'b').stdout
    const redraws = await terminalWrites(pid, 5)
    tmux('send-keys', '-t', 'b', 'q')
    await sleep(1500)
    return {...measured, writesPerSecond: redraws, screen, size: `${cols}x${rows}`}
  } finally {
    tmux('kill-server')
    rmSync(dir, {recursive: true, force: true})
  }
}

async function eventsBench() {
  const prefix = `bench-flood-${process.pid}:`
  const workers = 10_000
  const flood = startProcess([process.execPath, join(ROOT, 'scripts', 'event-flood.mjs'), '--url', URL, '--prefix', prefix, '--workers', String(workers), '--interval', '2'], /flooding/, 30_000)
  process.stderr.write(`benchmark: events at fleet scale, ${workers} simulated workers beating every 2 s, ${EVENTS_SECONDS} s per row; Redis DB ${DB}, prefix ${prefix}\n`)
  const rows = []
  try {
    await flood.ready
    const wf = (...args) => [process.execPath, BIN, ...args, '-b', URL, '--redis-key-prefix', prefix]
    const json = await underFlood(wf('events', '--json'), {})
    rows.push({name: '`wfctl events --json >/dev/null`', ...json, goal: 0.25})
    process.stderr.write(`  events --json: ${(json.cpu * 100).toFixed(1)}% of a core\n`)
    const text = await underFlood(wf('events'), {})
    rows.push({name: '`wfctl events >/dev/null` (lines)', ...text, goal: 0.25})
    process.stderr.write(`  events: ${(text.cpu * 100).toFixed(1)}% of a core\n`)
    const counted = await underFlood(wf('events', '--json'), {}, {count: true})
    rows.push({name: '`wfctl events --json \\| (counted)`', ...counted, goal: 0.25})
    process.stderr.write(`  events --json, counted: ${counted.perSecond.toFixed(0)} events/s\n`)
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
    if (manifest.commands.top) {
      const top = await topInTmux(prefix)
      const shown = (top.screen.match(/flood\d+@bench/g) ?? []).length
      rows.push({name: `\`wfctl top\` (tmux ${top.size})`, ...top, goal: 0.25, redraws: true, note: `${shown} worker rows on screen`})
      process.stderr.write(`  top: ${(top.cpu * 100).toFixed(1)}% of a core, ${top.writesPerSecond.toFixed(1)} redraws/s\n`)
    } else {
      rows.push({name: '`wfctl top`', missing: true})
    }
    const dump = await underFlood([PYTHON, '-m', 'celery', '-A', 'wfctl_tasks', 'events', '--dump'], {WFCTL_TEST_BROKER: URL, WFCTL_TEST_KEY_PREFIX: prefix}, {count: true})
    rows.push({name: '`celery events --dump \\| (counted)`', ...dump})
    process.stderr.write(`  celery events --dump: ${(dump.cpu * 100).toFixed(1)}% of a core, ${dump.perSecond.toFixed(0)} lines/s\n`)
  } finally {
    const floodPid = flood.child.pid
    const floodCpu = floodPid ? cpuSeconds(floodPid) : NaN
    await flood.stop()
    rows.flood = floodCpu
  }
  return rows
}

function eventsReport(rows) {
  const pct = (v) => `${(v * 100).toFixed(1)}%`
  const lines = ['', `| 10,000 simulated workers, a heartbeat every 2 s each (5,000 events/s), ${EVENTS_SECONDS} s | CPU (share of one core) | events read/s | redraws/s (writes to the terminal) | goal |`, '|---|---|---|---|---|']
  for (const row of rows) {
    if (row.missing) {
      lines.push(`| ${row.name} | not measured: no \`top\` command in this build |  |  |  |`)
      continue
    }
    const checks = []
    if (row.goal !== undefined) checks.push(`< ${pct(row.goal)} of a core: ${row.cpu < row.goal ? 'met' : 'MISSED'}`)
    if (row.perSecond !== undefined && row.goal !== undefined) checks.push(`keeps up: ${row.perSecond >= 4900 ? 'yes' : 'NO'}`)
    if (row.code !== 130 && row.code !== 0 && row.code !== undefined) checks.push(`exit ${row.code}`)
    if (row.note) checks.push(row.note)
    lines.push(`| ${row.name} | ${pct(row.cpu)} | ${row.perSecond === undefined ? '-' : row.perSecond.toFixed(0)} | ${row.redraws ? (Number.isFinite(row.writesPerSecond) ? row.writesPerSecond.toFixed(1) : 'no strace') : '-'} | ${checks.join('; ') || '-'} |`)
  }
  lines.push('', `event generator (scripts/event-flood.mjs): ${Number.isFinite(rows.flood) ? `${rows.flood.toFixed(1)} CPU seconds in all` : 'CPU unknown'}; node ${process.version}`)
  return `${lines.join('\n')}\n`
}

async function waitForNodes(n) {
  const end = Date.now() + 60_000
  while (Date.now() < end) {
    const run = spawnSync(process.execPath, [BIN, 'control', 'ping', '--expect', String(n), '-t', '2', '--json', '-b', URL], {encoding: 'utf8'})
    if (run.status === 0) return
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`${n} workers did not come up`)
}

const GOALS = {
  'row table': {wall: 1.5},
  '50 MB': {absolute: 2},
  'fleet-wide': {wall: 0.25},
  targeted: {wall: 0.8},
  '10,000': {wall: 0.5, absolute: 2, rss: 150 * MiB},
}

function report(rows, startupRows) {
  const lines = []
  for (const table of startupRows) {
    const base = table.rows.find((r) => r.base)
    lines.push('', `Start-up, ${table.label}:`, '')
    lines.push(`| start-up (${STARTUP_RUNS} runs each, interleaved) | wall (median) | CPU (median) | peak RSS | ratio to \`node -e 0\` (wall, RSS) | goal |`)
    lines.push('|---|---|---|---|---|---|')
    for (const row of table.rows) {
      const ratio = {wall: row.wall / base.wall, rss: row.rss / base.rss}
      const checks = []
      if (row.goal?.wall !== undefined) checks.push(`wall ≤ ${row.goal.wall}x: ${ratio.wall <= row.goal.wall ? 'met' : 'MISSED'}`)
      if (row.goal?.rss !== undefined) checks.push(`RSS ≤ ${row.goal.rss}x: ${ratio.rss <= row.goal.rss ? 'met' : 'MISSED'}`)
      if (row.codes.some((c) => c !== 0)) checks.push(`exit ${row.codes.join(', ')}`)
      if (row.expectReplies !== undefined && row.replies < row.expectReplies) checks.push(`got ${row.replies} of ${row.expectReplies} replies`)
      lines.push(`| ${row.name} | ${fmt.ms(row.wall)} | ${fmt.ms(row.cpu)} | ${(row.rss / MiB).toFixed(1)} MiB | ${fmt.x(ratio.wall)}, ${fmt.x(ratio.rss)} | ${checks.join('; ') || '-'} |`)
    }
  }
  if (STARTUP_ONLY) {
    lines.push('', `node ${process.version} (--startup: the start-up table only)`)
    process.stdout.write(`${lines.join('\n')}\n`)
    return
  }
  lines.push('')
  lines.push('| scenario | tool | wall (median) | CPU (median) | peak RSS | replies | ratio wfctl/celery (wall, CPU, RSS) | goal |')
  lines.push('|---|---|---|---|---|---|---|---|')
  for (const row of rows) {
    const key = Object.keys(GOALS).find((k) => row.name.includes(k))
    const goal = key ? GOALS[key] : undefined
    const ratio = {wall: row.wfctl.wall / row.celery.wall, cpu: row.wfctl.cpu / row.celery.cpu, rss: row.wfctl.rss / row.celery.rss}
    const checks = []
    if (goal?.wall !== undefined) checks.push(`wall ≤ ${goal.wall}x: ${ratio.wall <= goal.wall ? 'met' : 'MISSED'}`)
    if (goal?.absolute !== undefined) checks.push(`≤ ${goal.absolute} s: ${row.wfctl.wall <= goal.absolute ? 'met' : 'MISSED'}`)
    if (goal?.rss !== undefined) checks.push(`RSS < ${fmt.mib(goal.rss)}: ${row.wfctl.rss < goal.rss ? 'met' : 'MISSED'}`)
    if (row.wfctl.replies < row.expectReplies) checks.push(`wfctl got ${row.wfctl.replies} of ${row.expectReplies} replies`)
    const [first, second] = row.tools ?? ['wfctl', 'celery']
    lines.push(`| ${row.name} | ${first} | ${fmt.s(row.wfctl.wall)} | ${fmt.s(row.wfctl.cpu)} | ${fmt.mib(row.wfctl.rss)} | ${row.wfctl.replies} | ${fmt.x(ratio.wall)}, ${fmt.x(ratio.cpu)}, ${fmt.x(ratio.rss)} | ${checks.join('; ') || '-'} |`)
    lines.push(`|  | ${second} | ${fmt.s(row.celery.wall)} | ${fmt.s(row.celery.cpu)} | ${fmt.mib(row.celery.rss)} | ${row.celery.replies} |  |  |`)
  }
  const sims = rows.filter((r) => r.simulatorRss)
  lines.push('')
  for (const row of sims) lines.push(`simulator process (${row.name.replace('ping across ', '')}): peak RSS ${fmt.mib(row.simulatorRss)}`)
  lines.push(`node ${process.version}, celery ${spawnSync(PYTHON, ['-m', 'celery', '--version'], {encoding: 'utf8'}).stdout.trim()}, ${RUNS} runs per measurement (3 at 10,000)`)
  process.stdout.write(`${lines.join('\n')}\n`)
}

main().catch((error) => {
  process.stderr.write(`benchmark failed: ${error.stack ?? error}\n`)
  process.exit(1)
})
