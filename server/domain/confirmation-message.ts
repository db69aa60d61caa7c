// Pure: the double opt-in mail of one pending follow (issue 14). It carries the confirmation link, and the manage and
// unsubscribe links with the RFC 8058 headers, so whoever did not ask for it can have the address deleted at once.
import { escapeHtml } from './html.ts';
import { oneLine } from './notify-payload.ts';
import { listUnsubscribeHeaders, type SubscriptionLinks } from './subscription-links.ts';

export interface ConfirmationMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

export function buildConfirmationMessage(o: {
  from: string;
  to: string;
  /** The follow in a sentence: "the Email section". */
  what: string;
  confirmUrl: string;
  links: SubscriptionLinks;
}): ConfirmationMessage {
  const what = oneLine(o.what, 200);
  const text = `Someone, hopefully you, asked to get email about ${what} from our status page.

To confirm, open this link and press the button on the page:
${o.confirmUrl}

Until you do, nothing else is sent to you. If you did not ask for this, ignore this message: the request is deleted after
48 hours. To delete your address now: ${o.links.unsubscribeUrl}
See what your address follows: ${o.links.manageUrl}
`;
  const html = `<!doctype html><html><body>
<p>Someone, hopefully you, asked to get email about ${escapeHtml(what)} from our status page.</p>
<p><a href="${escapeHtml(o.confirmUrl)}">Confirm the subscription</a> (the page that opens has a button to press).</p>
<p>Until you do, nothing else is sent to you. If you did not ask for this, ignore this message: the request is deleted
after 48 hours. <a href="${escapeHtml(o.links.unsubscribeUrl)}">Delete my address now</a> ·
<a href="${escapeHtml(o.links.manageUrl)}">See what my address follows</a></p>
</body></html>`;
  return {
    from: o.from,
    to: o.to,
    subject: oneLine(`Confirm your subscription to ${what}`, 300),
    text,
    html,
    headers: { ...listUnsubscribeHeaders(o.links), 'Auto-Submitted': 'auto-generated' },
  };
}
