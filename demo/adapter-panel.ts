/** The adapter panel: what the page's WebGPU adapter is, its features and the device's limits. */
import { h } from './dom.ts';
import type { GpuContext } from './engine.ts';

function limitEntries(limits: GPUSupportedLimits): [string, number][] {
  const out: [string, number][] = [];
  // WebIDL attributes live on the prototype, enumerable: for…in sees them.
  for (const key in limits) {
    const value = (limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') out.push([key, value]);
  }
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

function formatLimit(name: string, value: number): string {
  if (/Size$/.test(name) && value >= 1024 * 1024 && name !== 'maxComputeWorkgroupStorageSize') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = value;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return `${value.toLocaleString('en-US')} (${Number(v.toFixed(1))} ${units[u]})`;
  }
  return value.toLocaleString('en-US');
}

export function renderAdapterPanel(root: HTMLElement, ctx: GpuContext): void {
  const s = ctx.summary;
  const info: [string, string][] = [
    ['vendor', s.vendor],
    ['architecture', s.architecture],
    ['description', s.description || '—'],
    ['device', s.device || '—'],
    ['backend', s.backend],
    ['kind', s.software ? 'software (emulated on the CPU)' : 'hardware'],
    ['GPU timestamps', ctx.hasTimestamps ? 'yes (timestamp-query)' : 'no'],
  ];
  const features = [...ctx.adapter.features].sort();
  const deviceFeatures = ctx.features;
  root.replaceChildren(
    h('div', { class: 'adapter-grid' },
      h('div', {},
        h('h3', {}, 'Adapter'),
        h('table', { class: 'kv' }, h('tbody', {}, ...info.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))),
        h('h3', {}, `Features (${features.length})`),
        h('p', { class: 'small' }, 'Highlighted: enabled on the device the engine uses.'),
        h('ul', { class: 'chips', id: 'adapter-features' }, ...features.map((f) => h('li', { class: deviceFeatures.has(f) ? 'on' : '' }, f))),
      ),
      h('div', {},
        h('h3', {}, 'Device limits'),
        h('p', { class: 'small' }, 'The engine asks for the adapter’s maximum of the limits big models need.'),
        h('table', { class: 'kv limits', id: 'adapter-limits' },
          h('tbody', {}, ...limitEntries(ctx.limits).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, formatLimit(k, v)))))),
      ),
    ),
  );
}
