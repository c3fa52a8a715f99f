// Reading and driving the explorer's menu (inquirer prompts) in a tmux terminal: shared by the
// tests of `wfctl inspect --menu` and of the menu that `m` opens in the live view.
import {sleep} from './poll.js'
import type {Terminal} from './tmux.js'

/** The screen with its lines joined (questions wrap at 80 columns). */
export const flat = (screen: string) => screen.replace(/\s+/g, ' ')

/** The explorer's menu is up: its last question names the selection, with the cursor in its list. */
export function menuUp(screen: string): boolean {
  const tail = screen.slice(`\n${screen}`.lastIndexOf('\n? '))
  return tail.startsWith('? ') && /selected:/.test(tail) && /\n❯ /.test(tail) && /navigate • ⏎ select/.test(tail)
}

/** The entry under the cursor of the question on screen. */
export function cursorAt(screen: string): string | undefined {
  return screen.split('\n').filter((l) => l.startsWith('❯ ')).at(-1)?.slice(2).trim()
}

/** Waits until the screen satisfies `ok`, or throws with the screen at the deadline. */
export async function until(term: Terminal, ok: (screen: string) => boolean, what: string, ms = 10_000): Promise<string> {
  const end = Date.now() + ms
  for (;;) {
    const screen = term.screen()
    if (ok(screen)) return screen
    if (Date.now() > end) throw new Error(`the screen never showed ${what}:\n${screen}`)
    await sleep(50)
  }
}

/** Waits for the menu, moves its cursor (it stays where it was) to the entry with this label, and chooses it. */
export async function choose(term: Terminal, label: string): Promise<void> {
  let at = cursorAt(await until(term, menuUp, 'the menu'))
  for (let moves = 0; at !== label; moves++) {
    if (moves > 30) throw new Error(`no menu entry ${JSON.stringify(label)}:\n${term.screen()}`)
    term.keys('Down')
    const before = at
    at = cursorAt(await until(term, (s) => cursorAt(s) !== before, 'the cursor move'))
  }
  term.keys('Enter')
}
