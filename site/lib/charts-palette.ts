// Colours of the telemetry charts in the light and the dark scheme, on the page background of site/styles/site.css.
// Series (bars, lines) read at 3:1 or better on the background (WCAG 1.4.11), text at 4.5:1 (1.4.3), and a band's
// label reads at 4.5:1 on the band's fill; test/unit/charts-palette.test.ts checks every pair.

export interface ChartPalette {
  /** The page background (--bg). */
  bg: string;
  /** Axis labels, legend and band labels (--fg, --muted). */
  text: string;
  muted: string;
  grid: string;
  delivered: string;
  deferred: string;
  bounced: string;
  quarantined: string;
  discarded: string;
  /** Rejection reasons, in turn. */
  rejected: readonly string[];
  /** Deliveries by the new mail system, and those relayed to the old one. */
  systemNew: string;
  systemLegacy: string;
  p50: string;
  p95: string;
  depth: string;
  oldest: string;
  /** Phase bands: a translucent fill (band with bandAlpha over bg) and a solid edge. */
  band: string;
  bandAlpha: number;
}

export const CHART_PALETTES: Readonly<Record<'light' | 'dark', ChartPalette>> = {
  light: {
    bg: '#ffffff',
    text: '#1b1f24',
    muted: '#545d68',
    grid: '#d0d7de',
    delivered: '#1a7f37',
    deferred: '#9a6700',
    bounced: '#cf222e',
    quarantined: '#8250df',
    discarded: '#59636e',
    rejected: ['#0550ae', '#bc4c00', '#bf3989', '#1b7c83', '#6639ba', '#7d4e00'],
    systemNew: '#0550ae',
    systemLegacy: '#bc4c00',
    p50: '#0550ae',
    p95: '#bc4c00',
    depth: '#0550ae',
    oldest: '#8250df',
    band: '#0969da',
    bandAlpha: 0.12,
  },
  dark: {
    bg: '#0d1117',
    text: '#e6edf3',
    muted: '#9da7b3',
    grid: '#30363d',
    delivered: '#3fb950',
    deferred: '#d29922',
    bounced: '#f85149',
    quarantined: '#a371f7',
    discarded: '#8b949e',
    rejected: ['#58a6ff', '#f0883e', '#db61a2', '#39c5cf', '#bc8cff', '#e3b341'],
    systemNew: '#58a6ff',
    systemLegacy: '#f0883e',
    p50: '#58a6ff',
    p95: '#f0883e',
    depth: '#58a6ff',
    oldest: '#bc8cff',
    band: '#58a6ff',
    bandAlpha: 0.16,
  },
};

/** `hex` at `alpha` over `bg`, as one opaque colour. */
export function blend(hex: string, alpha: number, bg: string): string {
  const c = (h: string) => [1, 3, 5].map((i) => Number.parseInt(h.slice(i, i + 2), 16));
  const [a, b] = [c(hex), c(bg)];
  return `#${a
    .map((v, i) =>
      Math.round(v * alpha + b[i] * (1 - alpha))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}
