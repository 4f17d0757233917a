import fs from 'node:fs';
import path from 'node:path';

/** `DIR/config.json`: settings an administrator keeps across upgrades. */
export interface ConfigFile {
  allowOrigins?: string[];
  /** `HOST:PORT` of the SAM service. */
  sam?: string;
}

export const CONFIG_FILE = 'config.json';

export function readConfigFile(dir: string): ConfigFile {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const cfg = parsed as ConfigFile;
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${file} must hold a JSON object`);
  if (cfg.allowOrigins !== undefined && !(Array.isArray(cfg.allowOrigins) && cfg.allowOrigins.every((o) => typeof o === 'string'))) {
    throw new Error(`${file}: allowOrigins must be a list of origins`);
  }
  if (cfg.sam !== undefined && typeof cfg.sam !== 'string') throw new Error(`${file}: sam must be "HOST:PORT"`);
  return cfg;
}
