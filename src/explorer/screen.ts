import {emitKeypressEvents} from 'node:readline'

/*
 * A full-screen terminal for a live view: the alternate screen, raw keys, redraws of only the lines
 * that changed (cheap over SSH), and a terminal always given back as it was, however the view ends
 * (a closed terminal included: writes to it then fail, and are ignored).
 */

/** A key as node's readline decodes it. */
export interface Key {
  /** `up`, `return`, `escape`, `backspace`, `tab`, a letter...; undefined for most printable signs. */
  name?: string
  /** What the terminal sent. */
  sequence?: string
  ctrl?: boolean
  meta?: boolean
  shift?: boolean
}

export interface TerminalIO {
  input: NodeJS.ReadStream
  output: NodeJS.WriteStream
}

const ENTER = '\u001B[?1049h\u001B[H\u001B[2J\u001B[?25l\u001B[?7l'
const LEAVE = '\u001B[?7h\u001B[?25h\u001B[?1049l'

export class Screen {
  private drawn: string[] = []
  private size = ''
  private active = false
  private watching = false
  private readonly onKeypress = (text: string | undefined, key: Key | undefined) => {
    try {
      this.handlers.key(key ?? {sequence: text}, text)
    } catch (error) {
      this.handlers.failed(error as Error)
    }
  }
  private readonly onResize = () => {
    this.drawn = []
    this.handlers.resize()
  }
  // A closed terminal (EIO, EPIPE) is no reason to crash: the view ends by its signal (SIGHUP).
  private readonly onError = () => {}

  constructor(
    private readonly io: TerminalIO,
    private readonly handlers: {key: (key: Key, text?: string) => void; resize: () => void; failed: (error: Error) => void},
  ) {}

  get width(): number {
    return this.io.output.columns || 80
  }

  get height(): number {
    return this.io.output.rows || 24
  }

  /**
   * Takes the terminal: alternate screen, no cursor, no line wrap, raw keys. Again after stop()
   * (another screen had the terminal meanwhile): the next frame is drawn whole.
   */
  start(): void {
    if (this.active) return
    this.active = true
    this.drawn = []
    this.size = ''
    const {input, output} = this.io
    if (!this.watching) {
      // Once: the screen may be taken and given back many times.
      this.watching = true
      output.on('error', this.onError)
      input.on('error', this.onError)
    }
    emitKeypressEvents(input)
    if (input.isTTY) input.setRawMode(true)
    input.on('keypress', this.onKeypress)
    output.on('resize', this.onResize)
    input.resume()
    this.write(ENTER)
  }

  /** Draws a frame: only the lines that differ from the last frame are sent. */
  draw(lines: string[]): void {
    if (!this.active) return
    const size = `${this.width}x${this.height}`
    let out = ''
    if (size !== this.size) {
      this.size = size
      this.drawn = []
      out += '\u001B[H\u001B[2J'
    }
    for (let i = 0; i < lines.length; i++) {
      if (this.drawn[i] === lines[i]) continue
      out += `\u001B[${i + 1};1H${lines[i]}\u001B[K`
    }
    for (let i = lines.length; i < this.drawn.length; i++) out += `\u001B[${i + 1};1H\u001B[K`
    this.drawn = lines.slice()
    if (out !== '') this.write(out)
  }

  /** Gives the terminal back as it was (the main screen, the cursor, cooked keys). Safe to call twice, and when the terminal is gone. */
  stop(): void {
    if (!this.active) return
    this.active = false
    const {input, output} = this.io
    input.off('keypress', this.onKeypress)
    output.off('resize', this.onResize)
    try {
      if (input.isTTY) input.setRawMode(false)
    } catch {
      // The terminal is gone.
    }
    this.write(LEAVE)
    input.pause()
  }

  private write(text: string): void {
    try {
      this.io.output.write(text)
    } catch {
      // The terminal is gone.
    }
  }
}
