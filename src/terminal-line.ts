/**
 * A line redrawn in place on a terminal (a progress bar, with no newline yet) and the other writers of
 * that terminal (log lines): a log line clears the bar, is written on a line of its own, and the bar is
 * drawn again below it, instead of the two running together on one line.
 */
export interface OpenLine {
  /** The line's current text, drawn again after a write. */
  text(): string;
}

const openLines = new Map<object, OpenLine>();

export function setOpenLine(stream: object, line: OpenLine | undefined): void {
  if (line === undefined) openLines.delete(stream);
  else openLines.set(stream, line);
}

/** Writes `text` (whole lines) to `stream`, around the line open on it, if any. */
export function writeAroundOpenLine(stream: { write(text: string): unknown }, text: string): void {
  const line = openLines.get(stream);
  if (line === undefined) {
    stream.write(text);
    return;
  }
  stream.write(`\r\u001b[K${text}${line.text()}`);
}
