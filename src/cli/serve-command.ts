import { type Command, Option } from 'commander';
import { defaultConfigDir } from '../config/paths.js';
import { DEFAULT_HOST, DEFAULT_PORT, type ServeOptions, startService, UsageError } from '../server/service.js';
import { fail } from './fail.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`not a port number: ${value}`);
  return n;
}

const collect = (value: string, previous: string[]) => [...previous, value];

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
    .description('serve the NHIICC protocol on wss://iccert.nhi.gov.tw:7777/echo (loopback only)')
    .option('--host <host>', 'loopback address to listen on', DEFAULT_HOST)
    .option('--port <port>', 'port', port, DEFAULT_PORT)
    .option('--config-dir <dir>', 'certificate and config folder (env NHIICC_CONFIG_DIR)')
    .option('--sam <host:port>', 'NHI SAM service for H_Sign (default cloudicap.nhi.gov.tw:443)')
    .option('--allow-origin <origin>', 'also allow this web origin (repeatable)', collect, [])
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'))
    .option('--windows-service', 'run as the Windows service "nhiicc" (its definition passes this; by hand it only says so); logs to %ProgramData%\\nhiicc\\logs\\nhiicc.log')
    .action(async (opts: { host: string; port: number; configDir?: string; sam?: string; allowOrigin: string[]; logLevel: string; windowsService?: boolean }) => {
      const options: ServeOptions = {
        host: opts.host,
        port: opts.port,
        configDir: opts.configDir ?? defaultConfigDir(),
        allowOrigins: opts.allowOrigin,
        logLevel: opts.logLevel,
        ...(opts.sam !== undefined ? { sam: opts.sam } : {}),
      };
      if (opts.windowsService) {
        const { serveAsWindowsService } = await import('../windows-service/serve.js');
        return serveAsWindowsService(options, (err) => startFailure(err, opts.port) ?? `serving could not start: ${(err as Error)?.message ?? String(err)}`);
      }
      let service;
      try {
        service = await startService(options);
      } catch (err) {
        const message = startFailure(err, opts.port);
        if (message) fail(message);
        throw err;
      }
      const stop = async (signal: string) => {
        service.app.log.info({ signal }, 'stopping');
        await service.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
