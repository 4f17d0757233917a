import type { FastifyPluginAsync } from 'fastify';
import { PROTOCOL_VERSION } from '../protocol/commands.js';
import { APP_VERSION } from '../version.js';

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** `/`: the page the manuals tell users to open to check the certificate (docs/protocol.md §1, TLS). */
export function trustedPage(): string {
  return `<!doctype html>
<html lang="zh-Hant"><head><meta charset="utf-8"><title>nhiicc 健保卡元件</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.6}h1{color:#1a7f37}</style>
</head><body>
<h1>已確認為可信任服務</h1>
<p>Confirmed as a trusted service: your browser trusts this computer's NHI card service (nhiicc).</p>
<p>版本 Version: nhiicc ${escapeHtml(APP_VERSION)}, protocol ${PROTOCOL_VERSION}</p>
<p><a href="/ESample.html">診斷頁面 Diagnostic page (ESample)</a></p>
</body></html>
`;
}

export const pagesPlugin: FastifyPluginAsync = async (app) => {
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(trustedPage()));
};
