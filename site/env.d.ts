// Types of what the Hono server hands every page: the status snapshot, the instant it renders for, telemetry views.
/// <reference types="astro/client" />
declare namespace App {
  interface Locals {
    snapshot: import('#data/contracts/status.ts').StatusSnapshot;
    /** ISO instant the page is rendered for (the server's clock, not the visitor's). */
    now: string;
    /** Mail telemetry for the charts and impact reports; absent when the server runs without it. */
    telemetry?: import('#data/contracts/telemetry-views.ts').TelemetryViews;
    /** The subscription pages' content (server/routes/subscribe.ts); absent on every other page. */
    subscription?: import('#data/contracts/subscriptions.ts').SubscriptionPage;
  }
}
