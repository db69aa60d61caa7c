// Which addresses webhooks may reach with TIDINGS_WEBHOOK_ALLOW_PRIVATE off: public ones only, IPv4 inside IPv6 included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forbiddenAddressReason } from '#server/domain/webhook-address.ts';

test('non-public addresses are refused with the reason, public ones pass', () => {
  const cases: [string, string | null][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['0.0.0.0', 'this network'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['169.254.169.254', 'link-local'],
    ['192.0.2.10', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.251', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd12:3456::1', 'unique-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['::ffff:127.0.0.1', 'loopback (in IPv6)'],
    ['::ffff:a00:1', 'private (in IPv6)'],
    ['64:ff9b::7f00:1', 'loopback (in IPv6)'],
    ['2002:c0a8:101::1', 'private (in IPv6)'],
    ['[::1]', 'loopback'],
    ['hooks.example.net', 'not an IP address'],
    ['8.8.8.8', null],
    ['172.32.0.1', null],
    ['100.128.0.1', null],
    ['2606:4700:4700::1111', null],
    ['::ffff:8.8.8.8', null],
    ['64:ff9b::808:808', null],
  ];
  for (const [ip, why] of cases) assert.equal(forbiddenAddressReason(ip), why, ip);
});
