/** The HTML pages of /thredds/dodsC: the request form (.html), .info, and the version text. */
import type { DapArray, DapDataset } from '@climcat/netcdf';

export const VERSION_TEXT =
  'Core version: DAP/2.0\nServer version: climcat-opendap/1.0 (opendap/3.7 compatible)\n';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function baseName(path: string): string {
  return esc(path.split('/').pop() ?? path);
}

interface Described {
  dds: string;
  das: string;
  dap: DapDataset;
}

function arrayRow(array: DapArray, path: string): string {
  const dims = array.dims
    .map(
      (d) =>
        `<label>${esc(d.name)} <input size="12" data-dim="${esc(d.name)}" value="0:1:${d.size - 1}" ` +
        `title="start:stride:stop (stop inclusive), size ${d.size}"></label>`,
    )
    .join(' ');
  const attrs = array.variable.attributes
    .filter((a) => ['long_name', 'units', 'standard_name'].includes(a.name))
    .map((a) => `${esc(a.name)}: ${esc(String(typeof a.value === 'string' ? a.value : ''))}`)
    .join('; ');
  return (
    `<tr><td><input type="checkbox" data-var="${esc(path)}"></td><td><code>${esc(array.type)} ${esc(path)}</code></td>` +
    `<td>${dims}</td><td>${attrs}</td></tr>`
  );
}

/** The OPeNDAP request form: pick variables and index ranges, get the .ascii/.dods URL. */
export function formPage(path: string, d: Described): string {
  const rows = d.dap.vars
    .map((v) =>
      v.kind === 'array'
        ? arrayRow(v.array, v.name)
        : [
            arrayRow(v.array, `${v.name}.${v.array.name}`),
            ...v.maps.map((m) => arrayRow(m, `${v.name}.${m.name}`)),
          ].join(''),
    )
    .join('\n');
  const name = baseName(path);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OPeNDAP request form: ${name}</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:.3em .6em;vertical-align:top}code{white-space:nowrap}#url{width:100%}</style></head>
<body><h1>OPeNDAP Dataset Access Form</h1>
<p>Dataset: <code>${name}</code> —
<a href="${name}.dds">DDS</a> · <a href="${name}.das">DAS</a> · <a href="${name}.info">info</a> ·
<a href="/thredds/fileServer/${esc(path)}">whole file (HTTPServer)</a></p>
<p>Data URL (give it to ncdump, xarray or netCDF4 as is): <input id="url" readonly></p>
<p><button id="ascii">Get ASCII</button> <button id="binary">Get binary (.dods)</button></p>
<table><thead><tr><th></th><th>variable</th><th>index ranges</th><th>attributes</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>DDS</h2><pre>${esc(d.dds)}</pre>
<script>
const base = location.href.replace(/\\.html?(\\?.*)?$/, '');
function constraint() {
  return [...document.querySelectorAll('input[data-var]')].filter((c) => c.checked).map((c) => {
    const ranges = [...c.closest('tr').querySelectorAll('input[data-dim]')].map((i) => '[' + i.value.trim() + ']');
    return c.dataset.var + ranges.join('');
  }).join(',');
}
function update() { const ce = constraint(); document.getElementById('url').value = base + (ce ? '?' + ce : ''); }
document.addEventListener('input', update); document.addEventListener('change', update); update();
document.getElementById('ascii').onclick = () => { const ce = constraint(); location.href = base + '.ascii' + (ce ? '?' + ce : ''); };
document.getElementById('binary').onclick = () => { const ce = constraint(); location.href = base + '.dods' + (ce ? '?' + ce : ''); };
</script></body></html>
`;
}

/** .info: the DDS and DAS of the dataset on one page. */
export function infoPage(path: string, d: Described): string {
  const name = baseName(path);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dataset information: ${name}</title></head>
<body><h1>Dataset information: <code>${name}</code></h1>
<p><a href="${name}.html">request form</a></p>
<h2>Variables (DDS)</h2><pre>${esc(d.dds)}</pre>
<h2>Attributes (DAS)</h2><pre>${esc(d.das)}</pre>
</body></html>
`;
}
