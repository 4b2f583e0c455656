// leavex-bot test fixture: a real Bluesky PDS on loopback.
//
// Starts an in-memory PLC directory and a PDS (both from @atproto/dev-env's TestNetworkNoAppView)
// plus a tiny stub AppView that answers only app.bsky.actor.getProfile, so that the Python SDK's
// Client.login() works unchanged. Everything listens on 127.0.0.1 only; the PDS's outbound
// service URLs (moderation, CDN) point at a closed loopback port, so nothing leaves the host.
//
// Run with Node 22 (not the machine's node), normally through tests/support/pds.py:
//   PDS_APP_DIR=<dir with node_modules/@atproto/dev-env>   (required)
//   PLC_PORT, PDS_PORT, APPVIEW_PORT                       (required; APPVIEW_PORT=0: no stub)
//   PDS_INFO_FILE=<path>     JSON written (atomically) once every service answers
//   PDS_RATE_LIMITS=1        turn the PDS's own rate limits on (off by default)
//   PDS_EXIT_ON_STDIN_EOF=1  shut down when stdin closes (the parent process died), and then
//                            delete PDS_DATA_DIR (the instance's state) if that is set
//   TMPDIR=<dir>             where the PDS puts its sqlite files and blobs (fresh state each start)
// SIGTERM / SIGINT close the servers and exit 0 (forced exit after 5 s).
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const LOOPBACK = '127.0.0.1';
const t0 = Date.now();

function envPort(name) {
  const raw = process.env[name];
  const port = Number(raw);
  if (raw === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve.mjs: ${name} must be a port number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return port;
}

const appDir = process.env.PDS_APP_DIR;
if (!appDir) {
  console.error('serve.mjs: PDS_APP_DIR (the folder holding node_modules/@atproto/dev-env) is not set');
  process.exit(2);
}
const plcPort = envPort('PLC_PORT');
const pdsPort = envPort('PDS_PORT');
const appviewPort = envPort('APPVIEW_PORT');
if (!plcPort || !pdsPort) {
  console.error('serve.mjs: PLC_PORT and PDS_PORT must not be 0');
  process.exit(2);
}
const rateLimits = process.env.PDS_RATE_LIMITS === '1';
const infoFile = process.env.PDS_INFO_FILE || '';

// PLC and PDS call listen(port) with no host, which binds every interface. Force loopback for
// any listen() that names a port but no host (a unix socket path is left alone).
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

const pdsUrl = `http://${LOOPBACK}:${pdsPort}`;

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

// Stub AppView: getProfile built from the PDS's own repo data; everything else 501.
async function handleAppview(req, res) {
  const url = new URL(req.url ?? '/', 'http://stub');
  if (url.pathname !== '/xrpc/app.bsky.actor.getProfile') {
    return sendJson(res, 501, {
      error: 'MethodNotImplemented',
      message: 'the test AppView stub serves only app.bsky.actor.getProfile',
    });
  }
  const actor = url.searchParams.get('actor') ?? '';
  const signal = AbortSignal.timeout(5000);
  const repoRes = await fetch(
    `${pdsUrl}/xrpc/com.atproto.repo.describeRepo?repo=${encodeURIComponent(actor)}`,
    { signal },
  );
  if (!repoRes.ok) {
    return sendJson(res, 400, { error: 'InvalidRequest', message: 'Profile not found' });
  }
  const repo = await repoRes.json();
  const profile = { did: repo.did, handle: repo.handle };
  const recRes = await fetch(
    `${pdsUrl}/xrpc/com.atproto.repo.getRecord?repo=${encodeURIComponent(repo.did)}` +
      '&collection=app.bsky.actor.profile&rkey=self',
    { signal },
  );
  if (recRes.ok) {
    const value = (await recRes.json()).value ?? {};
    if (value.displayName) profile.displayName = value.displayName;
    if (value.description) profile.description = value.description;
  } else {
    await recRes.arrayBuffer();
  }
  return sendJson(res, 200, profile);
}

let stub = null;
if (appviewPort) {
  stub = http.createServer((req, res) => {
    handleAppview(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'InternalServerError', message: String(err) });
      else res.end();
    });
  });
  await new Promise((resolve, reject) => {
    stub.once('error', reject);
    stub.listen(appviewPort, LOOPBACK, resolve);
  });
}

// Resolve @atproto/dev-env from the install folder (this file lives in the repo, not there).
const requireFromApp = createRequire(path.join(path.resolve(appDir), 'package.json'));
const devEnvEntry = requireFromApp.resolve('@atproto/dev-env');
const { TestNetworkNoAppView } = await import(pathToFileURL(devEnvEntry).href);

const closedPort = `http://${LOOPBACK}:9`; // nothing listens there: outbound calls fail fast, locally
const pdsConfig = {
  port: pdsPort,
  hostname: 'localhost',
  bskyAppViewUrl: appviewPort ? `http://${LOOPBACK}:${appviewPort}` : closedPort,
  bskyAppViewDid: 'did:example:leavex-test-appview',
  bskyAppViewCdnUrlPattern: `${closedPort}/%s/%s/%s`,
  modServiceUrl: closedPort,
  crawlers: [],
  rateLimitsEnabled: rateLimits,
};
const network = await TestNetworkNoAppView.create({ plc: { port: plcPort }, pds: pdsConfig });

let closing = false;
let orphaned = false;
async function shutdown(reason, exitCode = 0) {
  if (closing) return;
  closing = true;
  const force = setTimeout(() => {
    console.error(`serve.mjs: forced exit after ${reason}`);
    process.exit(1);
  }, 5000);
  force.unref();
  try {
    await network.close();
  } catch (err) {
    console.error('serve.mjs: error while closing:', err);
  }
  if (stub) await new Promise((resolve) => stub.close(() => resolve()));
  // The parent died without stop(): nobody else will delete this instance's state.
  if (orphaned && process.env.PDS_DATA_DIR) {
    fs.rmSync(process.env.PDS_DATA_DIR, { recursive: true, force: true });
  }
  process.exit(exitCode);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
if (process.env.PDS_EXIT_ON_STDIN_EOF === '1') {
  const parentGone = (what) => {
    orphaned = true;
    void shutdown(what);
  };
  process.stdin.on('end', () => parentGone('stdin EOF'));
  process.stdin.on('error', () => parentGone('stdin error'));
  process.stdin.resume();
}

// Ready only once the PDS answers over HTTP on its loopback address (bounded: 50 x 100 ms).
let healthy = false;
for (let i = 0; i < 50 && !healthy; i++) {
  try {
    const r = await fetch(`${pdsUrl}/xrpc/_health`, { signal: AbortSignal.timeout(1000) });
    healthy = r.ok;
    await r.arrayBuffer();
  } catch {
    // not yet
  }
  if (!healthy) await new Promise((resolve) => setTimeout(resolve, 100));
}
if (!healthy) {
  console.error('serve.mjs: the PDS did not answer /xrpc/_health');
  await shutdown('health check failure', 1);
}

const info = {
  pdsUrl,
  plcUrl: `http://${LOOPBACK}:${plcPort}`,
  appviewUrl: appviewPort ? `http://${LOOPBACK}:${appviewPort}` : null,
  pdsDid: network.pds.ctx.cfg.service.did,
  pdsVersion: network.pds.ctx.cfg.service.version ?? null,
  handleDomains: network.pds.ctx.cfg.identity.serviceHandleDomains,
  adminUser: 'admin',
  adminPassword: 'admin-pass',
  rateLimits,
  nodeVersion: process.version,
  pid: process.pid,
  startMs: Date.now() - t0,
};
if (infoFile) {
  const tmp = `${infoFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(info));
  fs.renameSync(tmp, infoFile);
}
console.log(`READY ${JSON.stringify(info)}`);
