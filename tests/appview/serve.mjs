// leavex-bot test fixture: a whole local Bluesky on loopback — PLC, PDS and the real `bsky`
// AppView (with bsync and Ozone) from @atproto/dev-env's TestNetwork — so tests can read a
// follower's timeline as Bluesky's apps do. The AppView's database is a PostgreSQL server the
// Python side (tests/support/appview.py) starts; @atproto/dev-env comes from the PDS fixture's
// install (the same pin holds TestNetwork).
//
// Run with Node 22 through tests/support/appview.py:
//   APP_DIR=<dir with node_modules/@atproto/dev-env>         (required)
//   PLC_PORT, PDS_PORT, BSKY_PORT, OZONE_PORT, CTL_PORT      (required, loopback ports)
//   DB_POSTGRES_URL, DB_POSTGRES_SCHEMA                      (the AppView's database)
//   INFO_FILE=<path>   JSON written once everything answers
//   EXIT_ON_STDIN_EOF=1  shut down when stdin closes (the parent process died)
//   TMPDIR=<dir>       the PDS's sqlite files and blobs (fresh state each start)
// Control server on CTL_PORT: POST /process-all waits until the AppView has indexed everything
// the PDS emitted (network.processAll), answering {"ms": N}.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const LOOPBACK = '127.0.0.1';
const t0 = Date.now();

// Every listen(port) without a host goes onto loopback only (bsync, dataplane, ozone too).
const origListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  const isPort = typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first));
  if (isPort && typeof args[1] !== 'string') {
    return origListen.call(this, Number(first), LOOPBACK, ...args.slice(1));
  }
  if (first && typeof first === 'object' && !('path' in first) && !first.host) {
    return origListen.call(this, { ...first, host: LOOPBACK }, ...args.slice(1));
  }
  return origListen.apply(this, args);
};

function envPort(name) {
  const port = Number(process.env[name]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`serve.mjs: ${name} must be a port number`);
    process.exit(2);
  }
  return port;
}
const appDir = process.env.APP_DIR;
if (!appDir || !process.env.DB_POSTGRES_URL) {
  console.error('serve.mjs: APP_DIR and DB_POSTGRES_URL must be set');
  process.exit(2);
}
const [plcPort, pdsPort, bskyPort, ozonePort, ctlPort] = [
  'PLC_PORT', 'PDS_PORT', 'BSKY_PORT', 'OZONE_PORT', 'CTL_PORT',
].map(envPort);
process.env.REDIS_HOST ??= `${LOOPBACK}:9`; // asserted by TestNetwork.create, never used
const bskyUrl = `http://${LOOPBACK}:${bskyPort}`;

const requireFromApp = createRequire(path.join(path.resolve(appDir), 'package.json'));
const { TestNetwork } = await import(pathToFileURL(requireFromApp.resolve('@atproto/dev-env')).href);
const network = await TestNetwork.create({
  plc: { port: plcPort },
  pds: {
    port: pdsPort,
    hostname: 'localhost',
    // read-after-write image URLs point at the AppView's own image server
    bskyAppViewCdnUrlPattern: `${bskyUrl}/img/%s/plain/%s/%s`,
  },
  // Thumbnails become ${publicUrl}/img/..., served by this AppView (setting cdnUrl instead
  // would switch that image server off).
  bsky: { port: bskyPort, publicUrl: bskyUrl },
  ozone: { port: ozonePort },
});

const ctl = http.createServer(async (req, res) => {
  const send = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    if (req.url === '/process-all' && req.method === 'POST') {
      const started = Date.now();
      await network.processAll(10000);
      return send(200, { ms: Date.now() - started });
    }
    return send(404, { error: 'NotFound' });
  } catch (err) {
    return send(500, { error: 'InternalServerError', message: String(err) });
  }
});
await new Promise((ok, bad) => ctl.once('error', bad).listen(ctlPort, LOOPBACK, ok));

let closing = false;
async function shutdown(code = 0) {
  if (closing) return;
  closing = true;
  const force = setTimeout(() => process.exit(1), 8000);
  force.unref();
  try {
    await network.close();
  } catch (err) {
    console.error('serve.mjs: error while closing:', err);
  }
  ctl.close();
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
if (process.env.EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => void shutdown());
  process.stdin.on('error', () => void shutdown());
  process.stdin.resume();
}

const info = {
  plcUrl: `http://${LOOPBACK}:${plcPort}`,
  pdsUrl: `http://${LOOPBACK}:${pdsPort}`,
  appviewUrl: bskyUrl,
  appviewDid: network.bsky.ctx.cfg.serverDid,
  controlUrl: `http://${LOOPBACK}:${ctlPort}`,
  pdsDid: network.pds.ctx.cfg.service.did,
  handleDomains: network.pds.ctx.cfg.identity.serviceHandleDomains,
  adminUser: 'admin',
  adminPassword: 'admin-pass',
  startMs: Date.now() - t0,
  pid: process.pid,
};
const infoFile = process.env.INFO_FILE;
if (infoFile) {
  fs.writeFileSync(`${infoFile}.tmp`, JSON.stringify(info));
  fs.renameSync(`${infoFile}.tmp`, infoFile);
}
console.log('READY ' + JSON.stringify(info));
