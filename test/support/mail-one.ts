// Sends one short message to one recipient through our own SMTP client, as a sending server would, and returns the
// outcome the recipient got (delivered, or the reply that refused it).
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import type { DeliveryOutcome } from '#mailsystem/delivery/transport.ts';

export async function mailOne(port: number, to: string, subject: string, headers = ''): Promise<DeliveryOutcome> {
  const r = await sendMessage({
    host: '127.0.0.1',
    port,
    heloName: 'client.test',
    from: 'sender@origin.test',
    to: [to],
    timeoutMs: 10_000,
    message: Buffer.from(`From: sender@origin.test\r\nTo: ${to}\r\nSubject: ${subject}\r\n${headers}\r\nhi\r\n`),
  });
  return r.get(to)!;
}
