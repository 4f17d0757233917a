import { windowsServiceLogFile } from '../config/paths.js';
import { createLogger, type Logger } from '../log.js';
import { type RunningService, type ServeOptions, startService } from '../server/service.js';
import { openRotatingFile } from '../util/rotating-file.js';
import { type ControlThreadOptions, NotAServiceError, startControlThread } from './control-thread.js';
import { EXIT } from './controller.js';
import { lastWords } from './last-words.js';

/**
 * Node's variables that make it run code the service did not choose:
 * NODE_OPTIONS can preload modules or open the inspector, NODE_PATH adds
 * folders where require() looks. By the time any JS runs, Node has already
 * acted on them, so they cannot be undone here, only refused. The service
 * definition clears them (its Environment value), so a system-wide
 * NODE_OPTIONS set for other programs does not reach the service.
 */
export const FOREIGN_NODE_ENVIRONMENT = ['NODE_OPTIONS', 'NODE_PATH'] as const;

export function foreignNodeEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(FOREIGN_NODE_ENVIRONMENT.filter((name) => env[name]).map((name) => [name, env[name]!]));
}

export interface WindowsServiceOptions {
  logFile?: string;
  control?: ControlThreadOptions;
}

/** A service has no console: warnings and uncaught errors go to the log, not to stderr. */
function quietProcess(logger: Logger, crashed: () => void): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ warning: warning.name }, warning.message));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught error: the service stops');
    crashed();
  });
}

/**
 * `nhiicc serve --windows-service`: serves exactly as `serve`, started and
 * stopped by the service control manager through the control thread, and
 * logs to a rotated file under ProgramData and nowhere else.
 * describeFailure says why serving could not start, in the words `serve` uses.
 */
export async function serveAsWindowsService(opts: ServeOptions, describeFailure: (err: unknown) => string, options: WindowsServiceOptions = {}): Promise<void> {
  const logFile = options.logFile ?? windowsServiceLogFile();
  const control = startControlThread({ logFile, ...options.control });
  try {
    await control.started;
  } catch (err) {
    // Under the service control manager nobody sees stderr.
    if (!(err instanceof NotAServiceError)) lastWords(logFile, `the service could not start: ${(err as Error).message}`);
    throw err;
  }

  const logger = createLogger(opts.logLevel, openRotatingFile(logFile));
  control.onWarning = (message) => logger.warn(message);
  quietProcess(logger, () => control.stopped(EXIT.crashed));
  control.progress();

  const foreign = foreignNodeEnvironment(process.env);
  if (Object.keys(foreign).length > 0) {
    logger.fatal(
      foreign,
      `refusing to serve: the service's environment sets ${Object.keys(foreign).join(' and ')}, which let other programs choose what Node runs; ` +
        "nhiicc's service definition clears them: reinstall nhiicc, or remove them from the system environment",
    );
    return control.stopped(EXIT.foreignNodeEnvironment);
  }

  let service: RunningService;
  try {
    service = await startService({ ...opts, logger });
  } catch (err) {
    logger.fatal({ err }, describeFailure(err));
    return control.stopped(EXIT.startFailed);
  }
  control.running();
  logger.info('running as the Windows service');

  const request = await control.stopRequested;
  if ('failure' in request) logger.error(`${request.failure}: the service stops`);
  else logger.info({ control: request.control }, 'stopping');
  try {
    await service.close();
  } catch (err) {
    logger.error({ err }, 'closing failed');
  }
  control.stopped('failure' in request ? EXIT.crashed : EXIT.ok);
}
