// leavex-bot test helper: atproto's own rich-text detection, as an independent oracle.
//
// Reads JSON lines on stdin, each {"text": "..."}, and writes one JSON line per input line, in
// order: {"graphemes": n, "bytes": n, "facets": [{"start", "end", "kind", "value"}],
// "unassigned": [chars]} as @atproto/api's RichText computes them (graphemeLength, length in
// UTF-8 bytes, detectFacetsWithoutResolution()) plus the characters of the text this Node's
// Unicode data does not know, or {"error": "..."} for a line it could not handle.
// Facet kinds: "link" (value: the uri), "tag" (value: the tag without '#'; cashtags keep '$'),
// "mention" (value: the handle). Byte offsets are UTF-8, as in app.bsky.richtext.facet.
//
// Run with Node 22 from the test PDS install (tests/support/pds.py), normally through
// tests/support/richtext.py:   node richtext.mjs <install dir holding node_modules/@atproto/api>
// Exits when stdin closes. Nothing is read from or sent to the network.
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const appDir = process.argv[2];
if (!appDir) {
  console.error('richtext.mjs: pass the folder holding node_modules/@atproto/api');
  process.exit(2);
}
const requireFromApp = createRequire(path.join(path.resolve(appDir), 'package.json'));
const { RichText } = await import(pathToFileURL(requireFromApp.resolve('@atproto/api')).href);

const KINDS = {
  'app.bsky.richtext.facet#link': ['link', (f) => f.uri],
  'app.bsky.richtext.facet#tag': ['tag', (f) => f.tag],
  'app.bsky.richtext.facet#mention': ['mention', (f) => f.did],
};

function detect(text) {
  const rt = new RichText({ text });
  rt.detectFacetsWithoutResolution();
  const facets = [];
  for (const facet of rt.facets ?? []) {
    for (const feature of facet.features) {
      const [kind, value] = KINDS[feature.$type] ?? ['other', () => feature.$type];
      facets.push({
        start: facet.index.byteStart,
        end: facet.index.byteEnd,
        kind,
        value: value(feature),
      });
    }
  }
  // Characters this Node's Unicode data (ICU, which Intl.Segmenter counts graphemes with) has
  // not assigned yet: where a newer Unicode elsewhere may count differently.
  const unassigned = [...new Set(text.match(/\P{Assigned}/gu) ?? [])];
  return { graphemes: rt.graphemeLength, bytes: rt.length, facets, unassigned };
}

// Announce readiness, so the caller's start-up timeout covers loading @atproto/api.
process.stdout.write(JSON.stringify({ ready: true, node: process.versions.node }) + '\n');

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  let answer;
  try {
    answer = detect(JSON.parse(line).text);
  } catch (error) {
    answer = { error: String(error?.stack ?? error) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
