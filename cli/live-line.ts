// The live status line on a terminal. With the terminal's height known it sits on the bottom
// row, outside a scrolling region (DECSTBM, as apt's progress line does), so the job's own output
// scrolls above it untouched; otherwise it is redrawn in place (carriage return, erase line).
import { fitWidth } from './status-line.js';

export interface LiveLine {
  draw(line: string): void;
  /** Before a line of our own: leaves the cursor at the start of a clean line. */
  clear(): void;
  /** Gives the terminal back as it was (scrolling region reset, line erased). */
  close(): void;
}

/** Below this the region would leave too little room for the job's output. */
const MIN_ROWS = 5;
const SAVE = '\x1b7';
const RESTORE = '\x1b8';
const ERASE_LINE = '\x1b[2K';
const region = (top: number, bottom: number) => `\x1b[${top};${bottom}r`;
const moveTo = (row: number) => `\x1b[${row};1H`;

export function liveLine(out: NodeJS.WriteStream): LiveLine {
  return (out.rows ?? 0) >= MIN_ROWS ? bottomLine(out) : inPlaceLine(out);
}

function inPlaceLine(out: NodeJS.WriteStream): LiveLine {
  let shown = false;
  return {
    draw(line) {
      out.write(`\r${ERASE_LINE}${fitWidth(line, out.columns)}`);
      shown = true;
    },
    clear() {
      if (shown) out.write(`\r${ERASE_LINE}`);
      shown = false;
    },
    close() {
      this.clear();
    },
  };
}

function bottomLine(out: NodeJS.WriteStream): LiveLine {
  let rows = out.rows;
  let active = false;
  let last = '';
  // A new line first, so the cursor is not on the row the status line takes; setting the region
  // homes the cursor, hence save and restore around it.
  const setup = () => {
    out.write(`\n${SAVE}${region(1, rows - 1)}${RESTORE}\x1b[1A`);
    active = true;
  };
  const teardown = () => {
    out.write(`${SAVE}${region(1, rows)}${moveTo(rows)}${ERASE_LINE}${RESTORE}`);
    active = false;
  };
  const draw = (line: string) => {
    last = line;
    if (active) out.write(`${SAVE}${moveTo(rows)}${ERASE_LINE}${fitWidth(line, out.columns)}${RESTORE}`);
  };
  const onResize = () => {
    if (!active || out.rows === rows) return;
    teardown();
    rows = out.rows;
    if (rows >= MIN_ROWS) setup();
    if (last) draw(last);
  };
  // However we end (an exception included), the terminal must not keep a shrunken region.
  const onExit = () => active && teardown();
  out.on('resize', onResize);
  process.on('exit', onExit);
  setup();
  return {
    draw,
    clear() {}, // our lines scroll in the region like the job's
    close() {
      out.off('resize', onResize);
      process.off('exit', onExit);
      if (active) teardown();
    },
  };
}
