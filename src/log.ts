import pino from 'pino';

export type Logger = pino.Logger;

/**
 * JSON lines on stdout. Personal data is never passed to the logger; the
 * redaction below is a second line of defence should a field slip in.
 */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'nhiicc' },
      redact: {
        paths: ['idNo', 'id_no', 'name', 'birthDate', 'birth_date', 'cardNo', 'card_no', 'password', 'pwd', '*.idNo', '*.name', '*.cardNo', '*.password'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination(1),
  );
}
