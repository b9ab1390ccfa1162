// Micro-benchmark of the request-head parser: a typical 6-header keep-alive GET parsed 1,000,000 times.
// Run after `npx tsc -p tsconfig.test.json`: node bench/parser-micro.mjs [iterations]
// Loaded by URL so the type checker takes the types from src/ (a built .js file has none).
/** @type {typeof import('../src/http/request-parser.js')} */
const { HeadParser } = await import(new URL('../build/src/http/request-parser.js', import.meta.url).href);

const req = Buffer.from(
  'GET /index.html?lang=en HTTP/1.1\r\n' +
    'Host: localhost:8080\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n' +
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n' +
    'Accept-Language: en-US,en;q=0.5\r\n' +
    'Accept-Encoding: gzip, deflate\r\n' +
    'Connection: keep-alive\r\n' +
    '\r\n',
  'latin1',
);
const n = Number(process.argv[2] ?? 1_000_000);
const parser = new HeadParser();

/** @param {number} count */
function run(count) {
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const r = parser.parse(req, 0, req.length);
    if (r.kind !== 'head') throw new Error(`unexpected ${r.kind}`);
    sink += r.end;
    parser.reset();
  }
  return sink;
}

run(100_000); // warm up: let the JIT optimise before timing
const t0 = process.hrtime.bigint();
run(n);
const ns = Number(process.hrtime.bigint() - t0) / n;
console.log(`${req.length}-byte head, ${n} parses: ${ns.toFixed(0)} ns/request`);
