// A small SVG line chart with stacked panels sharing one time axis: enough to look at a run
// without a plotting library.
export interface Series {
  name: string;
  color: string;
  points: [number, number][];
  step?: boolean;
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

const W = 900;
const PANEL_H = 170;
const M = { left: 60, right: 20, top: 28, bottom: 24 };

export function plot(title: string, panels: Panel[], phases: { at: number; label: string }[] = []): string {
  const allX = panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)));
  const x0 = Math.min(...allX);
  const x1 = Math.max(...allX);
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0 || 1)) * (W - M.left - M.right);
  const out: string[] = [];
  const height = panels.length * (PANEL_H + M.top + M.bottom) + 30;
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/><text x="${M.left}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`);
  panels.forEach((p, i) => {
    const top = 30 + i * (PANEL_H + M.top + M.bottom) + M.top;
    const ys = p.series.flatMap((s) => s.points.map(([, y]) => y));
    const yMax = niceMax(Math.max(1, ...ys));
    const sy = (y: number) => top + PANEL_H - (y / yMax) * PANEL_H;
    out.push(`<text x="${M.left}" y="${top - 8}" font-weight="bold">${esc(p.title)} (${esc(p.unit)})</text>`);
    out.push(`<rect x="${M.left}" y="${top}" width="${W - M.left - M.right}" height="${PANEL_H}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (yMax * k) / 4;
      out.push(`<text x="${M.left - 6}" y="${sy(v) + 4}" text-anchor="end">${fmt(v)}</text><line x1="${M.left}" x2="${W - M.right}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/>`);
    }
    for (const ph of phases) out.push(`<line x1="${sx(ph.at)}" x2="${sx(ph.at)}" y1="${top}" y2="${top + PANEL_H}" stroke="#bbb" stroke-dasharray="4 3"/>${i === 0 ? `<text x="${sx(ph.at) + 3}" y="${top + 12}" fill="#777">${esc(ph.label)}</text>` : ''}`);
    p.series.forEach((s, j) => {
      const d = s.points.map(([x, y], k) => {
        const prev = s.points[k - 1];
        const stepTo = s.step && prev ? `L${sx(x).toFixed(1)},${sy(prev[1]).toFixed(1)} ` : '';
        return `${k === 0 ? 'M' : `${stepTo}L`}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
      }).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`);
      out.push(`<text x="${W - M.right - 140 + 0}" y="${top + 14 + j * 13}" fill="${s.color}">— ${esc(s.name)}</text>`);
    });
    if (i === panels.length - 1) for (let k = 0; k <= 6; k++) {
      const x = x0 + ((x1 - x0) * k) / 6;
      out.push(`<text x="${sx(x)}" y="${top + PANEL_H + 14}" text-anchor="middle">${Math.round(x)} s</text>`);
    }
  });
  out.push('</svg>');
  return out.join('\n');
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 4, 5, 10].map((m) => m * p).find((m) => m >= v) ?? 10 * p;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function esc(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
}
