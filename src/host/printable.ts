/*
 * Text virtbench did not write itself (benchmark and platform names from a results file, a remote's
 * hostname and PRETTY_NAME, a command's stderr), printed to a terminal or a CI log. A line break in it
 * starts a line of its own, which GitHub Actions reads as a workflow command when it begins with "::"
 * (`::error::`, `::add-mask::`, `::stop-commands::`), leading spaces or not; an ESC or a CSI starts a
 * terminal escape sequence that moves the cursor, erases lines or retitles the window. So every
 * control character is printed as a visible escape instead: C0 (U+0000-U+001F, tab and line breaks
 * included), DEL, C1 (U+0080-U+009F: U+0085 is a line break, U+009B a CSI) and the Unicode line and
 * paragraph separators (U+2028, U+2029).
 */

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL_RUNS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

const NAMED_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['\n', '\\n'],
  ['\r', '\\r'],
  ['\t', '\\t'],
]);

function escapeOf(character: string): string {
  const code = character.charCodeAt(0);
  return NAMED_ESCAPES.get(character) ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
}

/**
 * The text as one line that shows what it holds: each control character as `\n`, `\r`, `\t`, `\x1b`,
 * `\x9b` or `\u2028`. With `joinLines`, the line breaks of a text of several lines (virtbench's own
 * messages: a problem, then "fix: ...") are joined by it instead, and only the other control
 * characters escaped.
 */
export function printable(text: string, options: { joinLines?: string } = {}): string {
  const joined = options.joinLines === undefined ? text : text.replace(/\r?\n|\r/g, options.joinLines);
  return joined.replace(CONTROL, escapeOf);
}

/** The text with each run of control characters replaced by `replacement` (prose, where an escape would read as noise). */
export function withoutControlCharacters(text: string, replacement: string): string {
  return text.replace(CONTROL_RUNS, replacement);
}
