import { type Command, Option } from 'commander';
import { NHI_HOST, NHI_PORT } from '../config/names.js';
import { defaultConfigDir } from '../config/paths.js';
import { DEFAULT_SAM } from '../sam/h-sign.js';
import { DEFAULT_HOST, IDLE_EXIT_SECONDS, type ServeOptions, startService, UsageError } from '../server/service.js';
import { fail } from './fail.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`not a port number: ${value}`);
  return n;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`not a number of seconds: ${value}`);
  return n;
}

/** What a person is told when serving cannot start; undefined for errors nobody foresaw. */
function startFailure(err: unknown, port: number): string | undefined {
  if (err instanceof UsageError) return err.message;
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    return `port ${port} is already in use: another nhiicc, or the official NHI card component (mLNHIICC/mNHIICC), is running; \`nhiicc doctor\` names it`;
  }
  return undefined;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(`serve the NHIICC protocol on wss://${NHI_HOST}:${NHI_PORT}/echo (loopback only)`)
    .option('--host <host>', 'loopback address to listen on', DEFAULT_HOST)
    .option('--port <port>', 'port', port, NHI_PORT)
    .option('--config-dir <dir>', 'certificate and config folder (env NHIICC_CONFIG_DIR)')
    .option('--html-dir <dir>', 'where the ESample page is (env NHIICC_HTML_DIR; default: beside the program)')
    .option('--sam <host:port>', `NHI SAM service for H_Sign (default ${DEFAULT_SAM.host}:${DEFAULT_SAM.port})`)
    .option('--allow-origin <origin>', 'also allow this web origin (repeatable)', collect, [])
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'))
    .option(
      '--idle-exit <seconds>',
      `exit after this long without a connection, 0 never (env NHIICC_IDLE_EXIT; default ${IDLE_EXIT_SECONDS} when systemd passed the sockets, else never)`,
    )
    .option('--windows-service', 'run as the Windows service "nhiicc" (its definition passes this; by hand it only says so); logs to %ProgramData%\\nhiicc\\logs\\nhiicc.log')
    .action(async (opts: { host: string; port: number; configDir?: string; sam?: string; allowOrigin: string[]; logLevel: string; htmlDir?: string; idleExit?: string; windowsService?: boolean }) => {
      const htmlDir = opts.htmlDir ?? process.env.NHIICC_HTML_DIR;
      const idleExit = opts.idleExit ?? process.env.NHIICC_IDLE_EXIT;
      let idleExitSeconds: number | undefined;
      try {
        idleExitSeconds = idleExit === undefined ? undefined : seconds(idleExit);
      } catch (err) {
        fail((err as Error).message);
      }
      const options: ServeOptions = {
        host: opts.host,
        port: opts.port,
        configDir: opts.configDir ?? defaultConfigDir(),
        allowOrigins: opts.allowOrigin,
        logLevel: opts.logLevel,
        ...(opts.sam !== undefined ? { sam: opts.sam } : {}),
        ...(idleExitSeconds !== undefined ? { idleExitSeconds } : {}),
        ...(htmlDir !== undefined ? { htmlDir } : {}),
      };
      if (opts.windowsService) {
        const { serveAsWindowsService } = await import('../windows-service/serve.js');
        return serveAsWindowsService(options, (err) => startFailure(err, opts.port) ?? `serving could not start: ${(err as Error)?.message ?? String(err)}`);
      }
      let service: Awaited<ReturnType<typeof startService>> | undefined;
      const stop = async (why: string) => {
        if (!service) return;
        const running = service;
        service = undefined;
        running.app.log.info({ why }, why === 'idle' ? 'no connection for a while: stopping (socket activation starts nhiicc again on the next one)' : 'stopping');
        await running.close();
        process.exit(0);
      };
      try {
        service = await startService({ ...options, onIdle: () => void stop('idle') });
      } catch (err) {
        const message = startFailure(err, opts.port);
        if (message) fail(message);
        throw err;
      }
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
