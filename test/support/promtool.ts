import { writeFileSync } from 'fs';
import { join } from 'path';
import { stringify } from 'yaml';
import { RuleGroup } from '../../lib/observability/rules';
import { run } from './processes';

/** Writes rule groups as a rules file and runs `promtool check rules` on it; resolves with promtool's output. */
export async function checkRules(dir: string, name: string, groups: RuleGroup[]): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, stringify({ groups }));
  return run('promtool', ['check', 'rules', file]);
}

/** Writes a promtool unit test file next to the rule files and runs `promtool test rules`. */
export async function testRules(dir: string, tests: object): Promise<string> {
  const file = join(dir, 'tests.yml');
  writeFileSync(file, stringify(tests));
  return run('promtool', ['test', 'rules', file], { cwd: dir });
}
