// Types of what the Hono server hands every page: the status snapshot and the instant it renders for.
/// <reference types="astro/client" />
declare namespace App {
  interface Locals {
    snapshot: import('#data/contracts/status.ts').StatusSnapshot;
    /** ISO instant the page is rendered for (the server's clock, not the visitor's). */
    now: string;
  }
}
