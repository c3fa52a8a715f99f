import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN} from './cli.js'

/**
 * wfctl in a real terminal (a tmux pane of 80x24 on a private tmux server), as an operator runs it.
 * The server's socket lives in a temporary directory of its own, removed by close().
 */
export class Terminal {
  private readonly dir = mkdtempSync(join(tmpdir(), 'wfctl-tmux-'))
  private readonly socket = join(this.dir, 'socket')

  /**
   * `env`: variables for wfctl (the audit log is off unless it sets WFCTL_AUDIT_LOG).
   * `stderrTo`: a file wfctl's stderr goes to (`2>FILE`), instead of the terminal.
   */
  constructor(args: string[], env: Record<string, string> = {}, opts: {stderrTo?: string} = {}) {
    const vars = Object.entries({NO_COLOR: '1', WFCTL_AUDIT_LOG: 'off', ...env}).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`)
    const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ') + (opts.stderrTo === undefined ? '' : ` 2>'${opts.stderrTo.replace(/'/g, `'\\''`)}'`)
    // The exit code is printed after the command so the test can read it off the screen.
    try {
      this.tmux('new-session', '-d', '-s', 'w', '-x', '80', '-y', '24', `env ${vars.join(' ')} ${quoted}; echo "EXIT=$?"; sleep 60`)
    } catch (error) {
      rmSync(this.dir, {recursive: true, force: true})
      throw error
    }
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], {encoding: 'utf8'})
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 'w')
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'w', ...keys)
  }

  /** The pid of wfctl itself (the pane's shell runs it as its child). */
  wfctlPid(): number {
    const shell = this.tmux('list-panes', '-t', 'w', '-F', '#{pane_pid}').trim()
    return Number(execFileSync('pgrep', ['-P', shell, '-f', BIN], {encoding: 'utf8'}).trim().split('\n')[0])
  }

  async waitFor(pattern: RegExp, ms = 10_000): Promise<string> {
    const end = Date.now() + ms
    let screen = ''
    while (Date.now() < end) {
      screen = this.screen()
      if (pattern.test(screen)) return screen
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`the screen never showed ${pattern}:\n${screen}`)
  }

  close(): void {
    try {
      this.tmux('kill-server')
    } catch {}
    rmSync(this.dir, {recursive: true, force: true})
  }
}

/**
 * Two SIGHUPs to wfctl, one straight after the other, as a terminal that goes away can send them.
 * On a busy machine wfctl may finish its cleanup and exit before the second is sent: then there is
 * no second signal to survive, and the exit code and the broker still tell whether the first was
 * handled.
 */
export function hangUpTwice(pid: number): void {
  process.kill(pid, 'SIGHUP')
  try {
    process.kill(pid, 'SIGHUP')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}
