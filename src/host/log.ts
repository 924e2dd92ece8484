/*
 * Progress lines of long steps (image builds, boots, daemon starts), one
 * format everywhere: "virtbench [platform] 12.3s what happened", the time
 * counted from the start of the process (the run).
 */

export type Log = (line: string) => void;

export function formatLogLine(platform: string, line: string, elapsedMs = performance.now()): string {
  return `virtbench [${platform}] ${(elapsedMs / 1000).toFixed(1)}s ${line}`;
}

export function createLog(platform: string, write: (text: string) => void = (text) => console.log(text)): Log {
  return (line) => write(formatLogLine(platform, line));
}
