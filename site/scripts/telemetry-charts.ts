// Draws the telemetry charts of a section page with chart.js from the page's JSON data block: stacked bars of
// outcomes, lines of the deliveries by the new and the old mail system, p50/p95 delay lines, queue depth and oldest age
// lines, and the deployment phases as shaded, labelled bands (chartjs-plugin-annotation). Without this script the
// tables carry the same numbers.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  type ChartDataset,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
} from 'chart.js';
import annotationPlugin, { type AnnotationOptions } from 'chartjs-plugin-annotation';
import type { SectionCharts } from '#data/contracts/telemetry-charts.ts';
import { blend, CHART_PALETTES, type ChartPalette } from '../lib/charts-palette.ts';
import { formatQuantile } from '../lib/charts-format.ts';

Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Legend,
  Tooltip,
  annotationPlugin,
);

interface ChartData {
  charts: SectionCharts;
  labels: string[];
}

const REASON_WORDS: Record<string, string> = { 'unknown-user': 'unknown user', 'not-hosted': 'not hosted', 'too-big': 'too big' };
const reasonWord = (r: string) => REASON_WORDS[r] ?? r.replaceAll('-', ' ');

/** The x position of an instant on the category axis: interval i spans i - 0.5 to i + 0.5 (offset grid). */
function position(charts: SectionCharts, iso: string): number {
  const from = Date.parse(charts.from);
  const to = Date.parse(charts.to);
  const t = Math.min(Math.max(Date.parse(iso), from), to);
  return (t - from) / charts.stepMs - 0.5;
}

function bands(charts: SectionCharts, p: ChartPalette): Record<string, AnnotationOptions> {
  const out: Record<string, AnnotationOptions> = {};
  for (const [k, phase] of charts.phases.entries()) {
    out[`phase${k}`] = {
      type: 'box',
      xMin: position(charts, phase.start),
      xMax: position(charts, phase.end),
      backgroundColor: blend(p.band, p.bandAlpha, p.bg),
      borderColor: p.band,
      borderWidth: 1,
      drawTime: 'beforeDatasetsDraw',
      label: {
        display: true,
        // The whole title where it fits in the band, else the task number alone (a narrow band on a phone).
        content: (ctx) => {
          const full = `FS#${phase.taskId} ${phase.title}`;
          const x = ctx.chart.scales.x;
          if (!x) return full;
          const room = Math.abs(x.getPixelForValue(position(charts, phase.end)) - x.getPixelForValue(position(charts, phase.start)));
          const c = ctx.chart.ctx;
          c.save();
          c.font = `11px ${Chart.defaults.font.family}`;
          const fits = c.measureText(full).width + 8 <= room;
          c.restore();
          return fits ? full : `FS#${phase.taskId}`;
        },
        position: { x: 'start', y: 'start' },
        color: p.text,
        font: { size: 11 },
        padding: 3,
      },
    };
  }
  return out;
}

function common(p: ChartPalette, charts: SectionCharts, yTitle: string): ChartConfiguration['options'] {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: 'index', intersect: false },
    scales: {
      x: { offset: true, ticks: { color: p.muted, maxRotation: 0, autoSkipPadding: 12 }, grid: { color: p.grid } },
      y: { beginAtZero: true, title: { display: true, text: yTitle, color: p.muted }, ticks: { color: p.muted }, grid: { color: p.grid } },
    },
    plugins: {
      legend: { labels: { color: p.text, boxWidth: 14 } },
      annotation: { annotations: bands(charts, p) },
    },
  };
}

function outcomesConfig(d: ChartData, p: ChartPalette): ChartConfiguration<'bar'> {
  const { charts } = d;
  const series: [string, string, number[]][] = [
    ['Delivered', p.delivered, charts.intervals.map((i) => i.delivered)],
    ['Deferred', p.deferred, charts.intervals.map((i) => i.deferred)],
    ['Bounced', p.bounced, charts.intervals.map((i) => i.bounced)],
    ['Quarantined', p.quarantined, charts.intervals.map((i) => i.quarantined)],
    ['Discarded', p.discarded, charts.intervals.map((i) => i.discarded)],
    ...charts.rejectReasons.map((r, k): [string, string, number[]] => [
      `Rejected: ${reasonWord(r)}`,
      p.rejected[k % p.rejected.length],
      charts.intervals.map((i) => i.rejected[k]),
    ]),
  ];
  // Delivered, deferred and bounced always have a legend entry; the others only when the range has some.
  const shown = series.filter(([label, , data], k) => k < 3 || label.startsWith('Rejected') || data.some((v) => v > 0));
  const options = common(p, charts, 'messages');
  const scales = options?.scales as Record<string, Record<string, unknown>>;
  scales.x.stacked = true;
  scales.y.stacked = true;
  return {
    type: 'bar',
    data: {
      labels: d.labels,
      datasets: shown.map(([label, color, data]) => ({ label, data, backgroundColor: color, borderColor: color, stack: 'outcomes' })),
    },
    options: options as ChartConfiguration<'bar'>['options'],
  };
}

function line(label: string, color: string, data: (number | null)[], extra: Partial<ChartDataset<'line'>> = {}): ChartDataset<'line'> {
  return { label, data, borderColor: color, backgroundColor: color, pointRadius: 2.5, borderWidth: 2, spanGaps: false, ...extra };
}

function systemsConfig(d: ChartData, p: ChartPalette): ChartConfiguration<'line'> {
  const { charts } = d;
  return {
    type: 'line',
    data: {
      labels: d.labels,
      datasets: [
        line(
          'new mail system',
          p.systemNew,
          charts.intervals.map((i) => i.deliveredBy.new),
        ),
        // Dashed, with square points: the two lines differ by more than colour.
        line(
          'old mail system (relayed)',
          p.systemLegacy,
          charts.intervals.map((i) => i.deliveredBy.legacy),
          { borderDash: [6, 4], pointStyle: 'rect' },
        ),
      ],
    },
    options: common(p, charts, 'deliveries') as ChartConfiguration<'line'>['options'],
  };
}

function latencyConfig(d: ChartData, p: ChartPalette): ChartConfiguration<'line'> {
  const { charts } = d;
  const s = (ms: number | null) => (ms === null ? null : ms / 1000);
  const options = common(p, charts, 'seconds (bucket upper bound)') as Record<string, unknown>;
  const scales = options.scales as Record<string, Record<string, unknown>>;
  // Delays span milliseconds to days: a log scale keeps both readable.
  scales.y = { ...scales.y, type: 'logarithmic', beginAtZero: false };
  // Tooltips say what the table says: an upper bound, or "more than" the last bucket.
  const plugins = options.plugins as Record<string, unknown>;
  plugins.tooltip = {
    callbacks: {
      label: (ctx: { datasetIndex: number; dataIndex: number; dataset: { label?: string } }) => {
        const i = charts.intervals[ctx.dataIndex];
        const [ms, over] = ctx.datasetIndex === 0 ? [i.p50Ms, i.p50Overflow] : [i.p95Ms, i.p95Overflow];
        return `${ctx.dataset.label}: ${formatQuantile(ms, over)}`;
      },
    },
  };
  return {
    type: 'line',
    data: {
      labels: d.labels,
      datasets: [
        line(
          'p50',
          p.p50,
          charts.intervals.map((i) => s(i.p50Ms)),
          { pointStyle: charts.intervals.map((i) => (i.p50Overflow ? 'triangle' : 'circle')) },
        ),
        // Dashed, so the two lines differ by more than colour; past the last bucket a triangle marks "more than".
        line(
          'p95',
          p.p95,
          charts.intervals.map((i) => s(i.p95Ms)),
          { borderDash: [6, 4], pointStyle: charts.intervals.map((i) => (i.p95Overflow ? 'triangle' : 'circle')) },
        ),
      ],
    },
    options: options as ChartConfiguration<'line'>['options'],
  };
}

function queueConfig(d: ChartData, p: ChartPalette): ChartConfiguration<'line'> {
  const { charts } = d;
  const options = common(p, charts, 'queued deliveries') as Record<string, unknown>;
  const scales = options.scales as Record<string, Record<string, unknown>>;
  scales.y2 = {
    position: 'right',
    beginAtZero: true,
    title: { display: true, text: 'oldest age, minutes', color: p.muted },
    ticks: { color: p.muted },
    grid: { drawOnChartArea: false },
  };
  // A heartbeat with nothing queued: the oldest queued delivery waited 0 minutes; no heartbeat: a gap.
  const oldest = charts.intervals.map((i) => (i.nodes === 0 ? null : (i.oldestQueuedMs ?? 0) / 60_000));
  return {
    type: 'line',
    data: {
      labels: d.labels,
      datasets: [
        line(
          'Peak queue depth',
          p.depth,
          charts.intervals.map((i) => i.queueDepth),
        ),
        line('Oldest queued age (min)', p.oldest, oldest, { borderDash: [6, 4], yAxisID: 'y2', pointStyle: 'rectRot' }),
      ],
    },
    options: options as ChartConfiguration<'line'>['options'],
  };
}

const BUILD = { outcomes: outcomesConfig, systems: systemsConfig, latency: latencyConfig, queue: queueConfig } as const;

function draw(section: HTMLElement): void {
  const block = section.querySelector<HTMLScriptElement>('script[data-chart-data]');
  if (!block?.textContent) return;
  const data = JSON.parse(block.textContent) as ChartData;
  const dark = window.matchMedia('(prefers-color-scheme: dark)');
  const instances: Chart[] = [];
  let first = true;
  const render = () => {
    for (const c of instances.splice(0)) c.destroy();
    const palette = CHART_PALETTES[dark.matches ? 'dark' : 'light'];
    for (const figure of section.querySelectorAll<HTMLElement>('figure[data-chart]')) {
      const kind = figure.dataset.chart as keyof typeof BUILD;
      const canvas = figure.querySelector('canvas');
      const box = figure.querySelector<HTMLElement>('.chart-box');
      if (!canvas || !box || !(kind in BUILD)) continue;
      box.hidden = false;
      const chart = new Chart(canvas, {
        ...(BUILD[kind](data, palette) as ChartConfiguration),
        plugins: [
          {
            // For people and tests: the chart is drawn, with these bands where they landed (pixels).
            id: 'drawnMarker',
            afterRender: (c) => {
              figure.dataset.drawn = 'true';
              figure.dataset.bands = JSON.stringify(
                annotationPlugin.getAnnotations(c).map((e) => ({
                  x: Math.round(e.x),
                  x2: Math.round(e.x2),
                  y: Math.round(e.y),
                  y2: Math.round(e.y2),
                  label: (e.label?.options as { content?: unknown } | undefined)?.content ?? null,
                })),
              );
            },
          },
        ],
      });
      instances.push(chart);
      // With the chart drawn, its table folds away under its summary (one click to open it again).
      if (first) figure.querySelector('details.chart-data')?.removeAttribute('open');
    }
    first = false;
  };
  render();
  dark.addEventListener('change', render);
}

for (const section of document.querySelectorAll<HTMLElement>('section[data-telemetry]')) draw(section);
