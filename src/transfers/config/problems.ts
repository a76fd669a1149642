// Many configuration problems become ONE ConfigError: the first names the
// variable, the rest ride along so an operator can fix them all in one go.
import { ConfigError } from '../config-error';

export type Problem = { variable: string; problem: string };

export function toError(problems: Problem[]): ConfigError {
  const [first, ...more] = problems;
  return new ConfigError(first!.variable, first!.problem, more);
}
