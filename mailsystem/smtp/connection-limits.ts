// Per-IP concurrent connection cap: one counter per client address, released when the session ends.

export class ConnectionLimiter {
  private readonly max: number;
  private readonly perIp = new Map<string, number>();
  private readonly admitted = new Map<string, string>(); // session id → ip

  constructor(maxPerIp: number) {
    this.max = maxPerIp;
  }

  /** Counts the session against its address; false when the address is at its cap. */
  admit(sessionId: string, ip: string): boolean {
    const n = this.perIp.get(ip) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.perIp.set(ip, n + 1);
    this.admitted.set(sessionId, ip);
    return true;
  }

  /** Safe for sessions that were refused or never reached admission. */
  release(sessionId: string): void {
    const ip = this.admitted.get(sessionId);
    if (ip === undefined) return;
    this.admitted.delete(sessionId);
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }

  count(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }
}
