// What the two senders to the outbound relay (TIDINGS_NOTIFY_SMTP_URL) share: subscriber mail
// (server/jobs/notify-sender.ts) and the double opt-in mail (server/jobs/subscription-confirmations.ts).

/** nodemailer's timeouts for connections to the relay. */
export const RELAY_TIMEOUTS = { connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 60_000 } as const;

/** The bare address of `Name <address>` or `address`: the envelope's MAIL FROM. */
export function envelopeAddress(from: string): string {
  return /<([^<>]+)>$/.exec(from)?.[1] ?? from;
}

/** The wait after the `attempts`-th temporary failure: firstMs, doubling each time, at most maxMs. */
export function retryDelayMs(attempts: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.min(attempts - 1, 30));
}

/** A pause between a sender's passes that wake() ends at once (something was queued). */
export function wakeableSleep(): { sleep: (ms: number) => Promise<void>; wake: () => void } {
  let wake: (() => void) | null = null;
  return {
    sleep: async (ms) => {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    },
    wake: () => wake?.(),
  };
}
