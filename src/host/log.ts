import { printable } from './printable.js';

/*
 * Progress lines of long steps (image builds, boots, daemon starts), one
 * format everywhere: "virtbench [platform] 12.3s what happened", the time
 * counted from the start of the process (the run). One line each: what it
 * quotes (a remote's PRETTY_NAME, a command's stderr, a name) is printable,
 * its control characters shown as escapes (src/host/printable.ts).
 */

export type Log = (line: string) => void;

export function formatLogLine(platform: string, line: string, elapsedMs = performance.now()): string {
  // A name shows its control characters as escapes; a message of several lines becomes one, its lines joined by "; ".
  return `virtbench [${printable(platform)}] ${(elapsedMs / 1000).toFixed(1)}s ${printable(line, { joinLines: '; ' })}`;
}

export function createLog(platform: string, write: (text: string) => void = (text) => console.log(text)): Log {
  return (line) => write(formatLogLine(platform, line));
}
