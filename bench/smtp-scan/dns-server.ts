// The bench's DNS zone (scanners.ts ZONE) in a process of its own: served from the load generator's process, every
// answer would wait behind the SMTP load on its event loop, and Tidings asks DNS in series before rspamd (SPF, DMARC)
// where rspamd asks in parallel with its other rules. Prints the UDP port, then serves until stdin closes.
import { startDnsServer } from '../../test/support/dns-zone.ts';
import { ZONE } from './zone.ts';

const dns = await startDnsServer(ZONE);
process.stdout.write(`${dns.port}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void dns.close().then(() => process.exit(0));
});
