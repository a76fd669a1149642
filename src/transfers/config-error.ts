/**
 * A configuration value harvester cannot start with.
 *
 * The message is always ONE line that names the variable and the problem
 * (DESIGN.md "Configuration": a bad value stops start-up with one clear line).
 * It never carries a secret value: callers quote the value only for settings
 * that are not secret.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The environment variable at fault, e.g. `POLLING_INTERVAL` (the first one when there are several). */
  readonly variable: string;
  /** The problem without the variable's name, e.g. `"10x" is not a duration (...)`. */
  readonly problem: string;
  /** Every problem found, so that an operator can fix them all in one go. */
  readonly problems: ReadonlyArray<{ variable: string; problem: string }>;

  constructor(variable: string, problem: string, more: ReadonlyArray<{ variable: string; problem: string }> = []) {
    const problems = [{ variable, problem }, ...more];
    super(oneLine(problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')));
    this.variable = variable;
    this.problem = problem;
    this.problems = problems;
  }
}

/** Quote a non-secret value for a message: JSON escapes newlines and control characters, long values are cut. */
export function quote(value: string, max = 60): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut);
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
