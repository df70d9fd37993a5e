// The CLIs' progress display on stderr: one line redrawn in place on a terminal, a plain line every 10% when piped (CI logs).

const PROGRESS_BAR_WIDTH = 30;
/** Piped output gets one line per this many percent. */
const PLAIN_STEP_PERCENT = 10;
const DEFAULT_TERMINAL_COLUMNS = 100;
/** Some pseudo-terminals report 0 or very few columns. */
const MIN_TERMINAL_COLUMNS = 20;

/** `[#########.....................]  30%` */
function progressBar(done: number, total: number, width = PROGRESS_BAR_WIDTH): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

export class ProgressLine {
  private drawn = false;
  private nextPlainPercent = 0;

  /** `label` starts the plain lines (`demo-seed:  40% …`). */
  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  get isTty(): boolean {
    return this.stream.isTTY === true;
  }

  /** Bar and detail: redrawn on a terminal; piped, a line each time another 10% is done. */
  update(done: number, total: number, detail: string): void {
    if (this.isTty) {
      this.draw(`${progressBar(done, total)} ${detail}`);
      return;
    }
    const percent = total > 0 ? Math.floor(Math.min(1, done / total) * 100) : 100;
    if (percent < this.nextPlainPercent) return;
    this.stream.write(`${this.label}: ${String(percent).padStart(3)}% ${detail}\n`);
    this.nextPlainPercent = (Math.floor(percent / PLAIN_STEP_PERCENT) + 1) * PLAIN_STEP_PERCENT;
  }

  /** Free text in place of the bar, on a terminal only: piped output keeps to the milestone lines. */
  status(text: string): void {
    if (this.isTty) this.draw(text);
  }

  /** A milestone: a line of its own, above the redrawn one. */
  line(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
  }

  /** A new stage from 0%: the finished stage's line stays on screen. */
  restart(): void {
    this.finish();
    this.nextPlainPercent = 0;
  }

  /** Leaves the last redrawn line on screen. */
  finish(): void {
    if (this.isTty && this.drawn) this.stream.write("\n");
    this.drawn = false;
  }

  /** Erases the redrawn line. */
  clear(): void {
    if (this.isTty && this.drawn) this.stream.write(`\r${" ".repeat(this.columns() - 1)}\r`);
    this.drawn = false;
  }

  private columns(): number {
    return Math.max(MIN_TERMINAL_COLUMNS, this.stream.columns || DEFAULT_TERMINAL_COLUMNS);
  }

  private draw(text: string): void {
    const width = this.columns() - 1;
    this.stream.write(`\r${text.slice(0, width).padEnd(width)}`);
    this.drawn = true;
  }
}
