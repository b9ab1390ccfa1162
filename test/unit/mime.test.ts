import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { contentTypeFor, MIME_TYPES, DEFAULT_CONTENT_TYPE } from '../../src/http/mime.js';
import { MIME_DB_VERSION } from '../../src/http/mime-db.js';
import { REPO } from '../helpers/server.js';

test('common types, text ones with charset=utf-8', () => {
  assert.equal(contentTypeFor('/index.html'), 'text/html; charset=utf-8');
  assert.equal(contentTypeFor('style.css'), 'text/css; charset=utf-8');
  assert.equal(contentTypeFor('a.txt'), 'text/plain; charset=utf-8');
  assert.equal(contentTypeFor('feed.xml'), 'text/xml; charset=utf-8');
  assert.equal(contentTypeFor('app.js'), 'text/javascript; charset=utf-8');
  assert.equal(contentTypeFor('mod.mjs'), 'text/javascript; charset=utf-8');
  assert.equal(contentTypeFor('data.json'), 'application/json; charset=utf-8');
  assert.equal(contentTypeFor('logo.svg'), 'image/svg+xml; charset=utf-8');
  assert.equal(contentTypeFor('script.py'), 'text/x-python; charset=utf-8');
  assert.equal(contentTypeFor('README.md'), 'text/markdown; charset=utf-8');
});

test('binary types get no charset', () => {
  assert.equal(contentTypeFor('a.png'), 'image/png');
  assert.equal(contentTypeFor('a.jpg'), 'image/jpeg');
  assert.equal(contentTypeFor('a.pdf'), 'application/pdf');
  assert.equal(contentTypeFor('a.wasm'), 'application/wasm');
  assert.equal(contentTypeFor('a.woff2'), 'font/woff2');
  assert.equal(contentTypeFor('a.mp4'), 'video/mp4');
  assert.equal(contentTypeFor('a.xhtml'), 'application/xhtml+xml');
  assert.equal(contentTypeFor('a.yaml'), 'application/yaml');
  assert.equal(contentTypeFor('a.php'), 'application/x-httpd-php');
  assert.equal(contentTypeFor('a.exe'), 'application/octet-stream');
});

test('extension is case-insensitive and only the last one counts', () => {
  assert.equal(contentTypeFor('/x/PHOTO.JPG'), 'image/jpeg');
  assert.equal(contentTypeFor('/x/Page.HtMl'), 'text/html; charset=utf-8');
  assert.equal(contentTypeFor('archive.tar.gz'), 'application/gzip');
  assert.equal(contentTypeFor('page.html.bak'), DEFAULT_CONTENT_TYPE);
});

test('unknown, missing or empty extension → application/octet-stream', () => {
  assert.equal(DEFAULT_CONTENT_TYPE, 'application/octet-stream');
  assert.equal(contentTypeFor('Makefile'), 'application/octet-stream');
  assert.equal(contentTypeFor('/a.dir/Makefile'), 'application/octet-stream');
  assert.equal(contentTypeFor('file.'), 'application/octet-stream');
  assert.equal(contentTypeFor('x.unknownext'), 'application/octet-stream');
  assert.equal(contentTypeFor(''), 'application/octet-stream');
  assert.equal(contentTypeFor('/'), 'application/octet-stream');
});

test('dotfile: the text after the dot is the extension, as in nginx', () => {
  assert.equal(contentTypeFor('/dir/.json'), 'application/json; charset=utf-8');
  assert.equal(contentTypeFor('/dir/.bashrc'), 'application/octet-stream');
});

// Every extension of nginx 1.22's default mime.types, with its type.
const NGINX: Record<string, string> = {
  html: 'text/html',
  htm: 'text/html',
  shtml: 'text/html',
  css: 'text/css',
  xml: 'text/xml',
  gif: 'image/gif',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  js: 'application/javascript',
  atom: 'application/atom+xml',
  rss: 'application/rss+xml',
  mml: 'text/mathml',
  txt: 'text/plain',
  jad: 'text/vnd.sun.j2me.app-descriptor',
  wml: 'text/vnd.wap.wml',
  htc: 'text/x-component',
  avif: 'image/avif',
  png: 'image/png',
  svg: 'image/svg+xml',
  svgz: 'image/svg+xml',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  wbmp: 'image/vnd.wap.wbmp',
  webp: 'image/webp',
  ico: 'image/x-icon',
  jng: 'image/x-jng',
  bmp: 'image/x-ms-bmp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  jar: 'application/java-archive',
  war: 'application/java-archive',
  ear: 'application/java-archive',
  json: 'application/json',
  hqx: 'application/mac-binhex40',
  doc: 'application/msword',
  pdf: 'application/pdf',
  ps: 'application/postscript',
  eps: 'application/postscript',
  ai: 'application/postscript',
  rtf: 'application/rtf',
  m3u8: 'application/vnd.apple.mpegurl',
  kml: 'application/vnd.google-earth.kml+xml',
  kmz: 'application/vnd.google-earth.kmz',
  xls: 'application/vnd.ms-excel',
  eot: 'application/vnd.ms-fontobject',
  ppt: 'application/vnd.ms-powerpoint',
  odg: 'application/vnd.oasis.opendocument.graphics',
  odp: 'application/vnd.oasis.opendocument.presentation',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odt: 'application/vnd.oasis.opendocument.text',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  wmlc: 'application/vnd.wap.wmlc',
  wasm: 'application/wasm',
  '7z': 'application/x-7z-compressed',
  cco: 'application/x-cocoa',
  jardiff: 'application/x-java-archive-diff',
  jnlp: 'application/x-java-jnlp-file',
  run: 'application/x-makeself',
  pl: 'application/x-perl',
  pm: 'application/x-perl',
  prc: 'application/x-pilot',
  pdb: 'application/x-pilot',
  rar: 'application/x-rar-compressed',
  rpm: 'application/x-redhat-package-manager',
  sea: 'application/x-sea',
  swf: 'application/x-shockwave-flash',
  sit: 'application/x-stuffit',
  tcl: 'application/x-tcl',
  tk: 'application/x-tcl',
  der: 'application/x-x509-ca-cert',
  pem: 'application/x-x509-ca-cert',
  crt: 'application/x-x509-ca-cert',
  xpi: 'application/x-xpinstall',
  xhtml: 'application/xhtml+xml',
  xspf: 'application/xspf+xml',
  zip: 'application/zip',
  bin: 'application/octet-stream',
  exe: 'application/octet-stream',
  dll: 'application/octet-stream',
  deb: 'application/octet-stream',
  dmg: 'application/octet-stream',
  iso: 'application/octet-stream',
  img: 'application/octet-stream',
  msi: 'application/octet-stream',
  msp: 'application/octet-stream',
  msm: 'application/octet-stream',
  mid: 'audio/midi',
  midi: 'audio/midi',
  kar: 'audio/midi',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  m4a: 'audio/x-m4a',
  ra: 'audio/x-realaudio',
  '3gpp': 'video/3gpp',
  '3gp': 'video/3gpp',
  ts: 'video/mp2t',
  mp4: 'video/mp4',
  mpeg: 'video/mpeg',
  mpg: 'video/mpeg',
  mov: 'video/quicktime',
  webm: 'video/webm',
  flv: 'video/x-flv',
  m4v: 'video/x-m4v',
  mng: 'video/x-mng',
  asx: 'video/x-ms-asf',
  asf: 'video/x-ms-asf',
  wmv: 'video/x-ms-wmv',
  avi: 'video/x-msvideo',
};

const bare = (t: string): string => t.replace(/; charset=utf-8$/, '');

/** Where we differ from nginx 1.22 on purpose (README "Routing"): RFC 9239 makes text/javascript the one type. */
const OURS_OVER_NGINX: Record<string, string> = { js: 'text/javascript' };

test('covers every extension of nginx default mime.types with the same type', () => {
  assert.equal(Object.keys(NGINX).length, 110);
  for (const [ext, nginx] of Object.entries(NGINX)) {
    const type = OURS_OVER_NGINX[ext] ?? nginx;
    assert.equal(bare(MIME_TYPES.get(ext) ?? '(missing)'), type, `.${ext}`);
    assert.equal(bare(contentTypeFor(`/f.${ext}`)), type, `.${ext}`);
  }
});

test('modern additions', () => {
  const expected: Record<string, string> = {
    mjs: 'text/javascript; charset=utf-8',
    cjs: 'text/javascript; charset=utf-8',
    wasm: 'application/wasm',
    avif: 'image/avif',
    webmanifest: 'application/manifest+json',
    glb: 'model/gltf-binary',
    gltf: 'model/gltf+json',
    mpd: 'application/dash+xml',
    srt: 'application/x-subrip',
    geojson: 'application/geo+json',
    map: 'application/json; charset=utf-8',
    md: 'text/markdown; charset=utf-8',
    csv: 'text/csv; charset=utf-8',
    tsv: 'text/tab-separated-values; charset=utf-8',
    yaml: 'application/yaml',
    yml: 'application/yaml',
    toml: 'application/toml',
    wav: 'audio/wav',
    flac: 'audio/flac',
    opus: 'audio/ogg',
    weba: 'audio/webm',
    apng: 'image/apng',
    jxl: 'image/jxl',
    heic: 'image/heic',
    otf: 'font/otf',
    ttf: 'font/ttf',
    gz: 'application/gzip',
    tgz: 'application/gzip',
    bz2: 'application/x-bzip2',
    xz: 'application/x-xz',
    zst: 'application/zstd',
    tar: 'application/x-tar',
    sh: 'application/x-sh',
    py: 'text/x-python; charset=utf-8',
    php: 'application/x-httpd-php',
  };
  for (const [ext, type] of Object.entries(expected)) assert.equal(MIME_TYPES.get(ext), type, `.${ext}`);
});

test('charset rule: exactly text/* and the four listed text-like application/image types', () => {
  for (const [ext, value] of MIME_TYPES) {
    const type = bare(value);
    const wants =
      type.startsWith('text/') ||
      ['application/javascript', 'application/json', 'application/xml', 'image/svg+xml'].includes(type);
    assert.equal(value, wants ? `${type}; charset=utf-8` : type, `.${ext}`);
  }
});

test('table keys are lower-case extensions without dots', () => {
  for (const ext of MIME_TYPES.keys()) assert.match(ext, /^[a-z0-9_-]+$/);
  assert.ok(MIME_TYPES.size > 1200, `${MIME_TYPES.size} extensions`);
});

test('the committed mime-db table is what scripts/gen-mime.mjs makes from the installed mime-db', () => {
  const r = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'gen-mime.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`matches mime-db ${MIME_DB_VERSION.replaceAll('.', '\\.')} \\(\\d+ extensions\\)`));
});

test('agrees with the installed nginx mime.types when present', { skip: !existsSync('/etc/nginx/mime.types') }, () => {
  const text = readFileSync('/etc/nginx/mime.types', 'latin1');
  let n = 0;
  for (const m of text.matchAll(/^\s*([a-z0-9.+-]+\/[a-z0-9.+-]+)\s+([^;]+);/gim)) {
    for (const ext of (m[2] ?? '').trim().split(/\s+/)) {
      assert.equal(bare(contentTypeFor(`x.${ext}`)), OURS_OVER_NGINX[ext] ?? m[1], `.${ext}`);
      n++;
    }
  }
  assert.ok(n >= 100, `only ${n} entries read`);
});
