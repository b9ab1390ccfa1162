/**
 * The metrics' samples (server/metrics.ts): how several workers' reports combine, and how samples are written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  combineSamples,
  cumulative,
  methodIndex,
  METHOD_LABELS,
  renderSamples,
  type Sample,
} from '../../src/server/metrics.js';

describe('metric samples', () => {
  it('adds each series over the reports, and takes the largest build_info', () => {
    const a: Sample[] = [
      ['localhost_http_requests_total', '', 'server="a",code="2xx",method="GET"', 2],
      ['localhost_build_info', '', 'version="1"', 1],
    ];
    const b: Sample[] = [
      ['localhost_http_requests_total', '', 'server="a",code="2xx",method="GET"', 3],
      ['localhost_http_requests_total', '', 'server="b",code="4xx",method="HEAD"', 1],
      ['localhost_build_info', '', 'version="1"', 1],
    ];
    assert.deepEqual(combineSamples([a, b]), [
      ['localhost_http_requests_total', '', 'server="a",code="2xx",method="GET"', 5],
      ['localhost_build_info', '', 'version="1"', 1],
      ['localhost_http_requests_total', '', 'server="b",code="4xx",method="HEAD"', 1],
    ]);
  });

  it('keeps what only grows for exited workers, not gauges', () => {
    assert.equal(cumulative('localhost_http_requests_total'), true);
    assert.equal(cumulative('localhost_http_request_duration_seconds'), true);
    assert.equal(cumulative('localhost_connections'), false);
    assert.equal(cumulative('localhost_sessions'), false);
    assert.equal(cumulative('something_else'), false);
  });

  it('writes each family once, HELP and TYPE first, in the table order', () => {
    const text = renderSamples([
      ['localhost_sessions', '', '', 4],
      ['localhost_http_requests_total', '', 'server="x",code="2xx",method="GET"', 1],
      ['localhost_http_requests_total', '', 'server="y",code="2xx",method="GET"', 2],
    ]);
    const lines = text.split('\n');
    assert.deepEqual(
      lines.filter((l) => !l.startsWith('# HELP')),
      [
        '# TYPE localhost_http_requests_total counter',
        'localhost_http_requests_total{server="x",code="2xx",method="GET"} 1',
        'localhost_http_requests_total{server="y",code="2xx",method="GET"} 2',
        '# TYPE localhost_sessions gauge',
        'localhost_sessions 4',
        '',
      ],
    );
  });

  it('bounds the method label', () => {
    assert.equal(METHOD_LABELS[methodIndex('PATCH')], 'PATCH');
    assert.equal(METHOD_LABELS[methodIndex('OPTIONS')], 'OPTIONS');
    assert.equal(METHOD_LABELS[methodIndex('PROPFIND')], 'other');
    assert.equal(METHOD_LABELS[methodIndex('get')], 'other');
  });
});
