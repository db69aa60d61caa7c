// One subscriber message (issue 14), built from the outbox event's payload: plain text and HTML from the same
// sanitized content, the task's link, the manage and unsubscribe links, the RFC 8058 headers, and a Message-ID that
// depends only on (event, subscriber), so a copy sent again after a crash is recognisably the same message.
import type { NotifyEvent } from '#data/contracts/notify.ts';
import { escapeHtml } from './html.ts';
import { listUnsubscribeHeaders, type SubscriptionLinks } from './subscription-links.ts';

export interface NotifyMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: Record<string, string>;
}

/** `<notify.EVENT.SUBSCRIBER@HOST>`: the same for every attempt at one event and subscriber. */
function notifyMessageId(eventId: number, subscriberId: number, host: string): string {
  return `<notify.${eventId}.${subscriberId}@${host}>`;
}

export function buildNotifyMessage(
  event: NotifyEvent,
  recipient: { subscriberId: number; email: string },
  o: { from: string; host: string; links: SubscriptionLinks },
): NotifyMessage {
  const p = event.payload;
  const text = `${p.text}\n\n${p.url}\n\n-- \nYou receive this because you follow it on the status page.\nChange what you follow: ${o.links.manageUrl}\nUnsubscribe: ${o.links.unsubscribeUrl}\n`;
  const html = `<!doctype html><html><body>${p.html}
<p><a href="${escapeHtml(p.url)}">${escapeHtml(p.url)}</a></p>
<hr><p style="font-size:small">You receive this because you follow it on the status page.
<a href="${escapeHtml(o.links.manageUrl)}">Change what you follow</a> ·
<a href="${escapeHtml(o.links.unsubscribeUrl)}">Unsubscribe</a></p></body></html>`;
  return {
    from: o.from,
    to: recipient.email,
    // A header line: no line breaks even if a payload carried one.
    subject: p.subject.replace(/[\r\n]+/g, ' '),
    text,
    html,
    messageId: notifyMessageId(event.id, recipient.subscriberId, o.host),
    headers: {
      ...listUnsubscribeHeaders(o.links),
      // Automatic mail (RFC 3834): no vacation replies.
      'Auto-Submitted': 'auto-generated',
      'X-Tidings-Event': String(event.id),
    },
  };
}
