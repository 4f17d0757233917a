// The command runner ends a command that does not finish in time: a macOS
// dialog nobody answers must not hang the install step.
import t from 'tap';
import { CommandError, runCommand, TIMED_OUT } from '../../src/util/runner.js';

t.test('timeoutMs ends the command and says so', async (t) => {
  const started = Date.now();
  const result = await runCommand('sleep', ['30'], { timeoutMs: 200 });
  t.ok(Date.now() - started < 5000, 'did not wait for sleep');
  t.equal(result.code, TIMED_OUT);
  t.equal(result.stderr, 'sleep: no answer within 1 s, ended\n');
  t.equal(new CommandError('sleep', ['30'], result).message, '`sleep 30` did not finish in time: sleep: no answer within 1 s, ended');
  t.same(await runCommand('sh', ['-c', 'echo ok'], { timeoutMs: 5000 }), { code: 0, stdout: 'ok\n', stderr: '' }, 'a command that finishes is untouched');
});
