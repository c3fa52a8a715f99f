/**
 * Text from the wire made safe for a terminal: control characters (escape sequences could set the
 * title, move the cursor or clear the screen) are shown as U+FFFD; layout whitespace as a space.
 */
export function safe(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/\s*[\r\n\t]+\s*/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD')
}
