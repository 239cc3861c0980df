import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  readonly label: string;
  /** A CSS colour. */
  readonly color: string;
  readonly values: readonly number[];
  /** Fill the area under the line. */
  readonly area?: boolean;
}

interface ChartProps {
  readonly id: string;
  readonly title: string;
  /** Start of each minute (ms since the epoch). */
  readonly minutes: readonly number[];
  readonly series: readonly ChartSeries[];
  /** The chart in words, for screen readers and for a glance without a mouse. */
  readonly description: string;
}

const HEIGHT = 180;

function alpha(color: string): string {
  return `${color}33`;
}

/** Whole numbers only on a count axis. */
function countTicks(_u: uPlot, ticks: number[]): string[] {
  return ticks.map((t) => (Number.isInteger(t) ? t.toLocaleString('en-US') : ''));
}

/** A time-series chart of the last hour (uPlot on a canvas), resized with its container. */
export function Chart({ id, title, minutes, series, description }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  const data = (): uPlot.AlignedData => [minutes.map((m) => m / 1000), ...series.map((s) => [...s.values])];

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const u = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height: HEIGHT,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
        axes: [
          { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } },
          {
            stroke: 'currentColor',
            grid: { stroke: 'rgba(128,128,128,0.15)' },
            values: countTicks,
            size: 48,
          },
        ],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            ...(s.area === true ? { fill: alpha(s.color) } : {}),
            points: { show: false },
          })),
        ],
      },
      data(),
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => {
      const width = Math.max(240, el.clientWidth);
      if (width !== u.width) u.setSize({ width, height: HEIGHT });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The series' names and colours are fixed for a chart; data changes go through setData below.
  }, []);

  useEffect(() => {
    plot.current?.setData(data());
  });

  return (
    <figure class="chart" aria-labelledby={`${id}-title`} aria-describedby={`${id}-desc`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <div ref={box} class="chart-canvas" aria-hidden="true" />
      <p id={`${id}-desc`} class="chart-desc">
        {description}
      </p>
    </figure>
  );
}
