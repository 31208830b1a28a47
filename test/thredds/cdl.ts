/**
 * ncdump's CDL output parsed into comparable parts, and the documented ways
 * a file's CDL changes when netCDF-C reads it over DAP2 (see README, /thredds).
 */
export interface Cdl {
  /** `name = 3 ;` lines, sorted (netCDF-C defines DAP2 dimensions in the order it meets them). */
  dimensions: string[];
  /** Declaration and sorted attribute lines, by variable name. */
  variables: Map<string, { declaration: string; attributes: string[] }>;
  globals: string[];
  /** Data text with whitespace collapsed, by variable name. */
  data: Map<string, string>;
}

export function parseCdl(text: string): Cdl {
  const cdl: Cdl = { dimensions: [], variables: new Map(), globals: [], data: new Map() };
  let section = '';
  let current: { declaration: string; attributes: string[] } | undefined;
  let lastAttrs: string[] | undefined;
  let dataName: string | undefined;
  let dataText = '';
  for (const line of text.split('\n')) {
    if (/^(netcdf|group:|\}|\s*\/\/ group attributes)/.test(line) && section !== 'data') continue;
    if (line === 'dimensions:' || line === 'variables:' || line === 'data:') {
      section = line.slice(0, -1);
      continue;
    }
    if (line === '// global attributes:') {
      section = 'globals';
      lastAttrs = cdl.globals;
      continue;
    }
    if (section === 'dimensions' && line.trim()) cdl.dimensions.push(line.trim());
    else if (section === 'variables' || section === 'globals') {
      if (line.startsWith('\t\t\t') && lastAttrs?.length) {
        lastAttrs[lastAttrs.length - 1] += ` ${line.trim()}`;
      } else if (line.startsWith('\t\t')) {
        const attr = line.trim();
        if (section === 'globals') cdl.globals.push(attr);
        else current?.attributes.push(attr);
      } else if (line.startsWith('\t') && section === 'variables') {
        const declaration = line.trim();
        const name = /^\S+\s+([^\s(]+)/.exec(declaration)?.[1] ?? declaration;
        current = { declaration, attributes: [] };
        lastAttrs = current.attributes;
        cdl.variables.set(name, current);
      }
    } else if (section === 'data') {
      if (dataName === undefined) {
        const m = /^\s*(\S+) =\s?(.*)$/.exec(line);
        if (!m) continue;
        dataName = m[1] ?? '';
        dataText = m[2] ?? '';
      } else dataText += ` ${line.trim()}`;
      if (/;\s*$/.test(dataText)) {
        cdl.data.set(dataName, dataText.replace(/\s+/g, ' ').trim());
        dataName = undefined;
      }
    }
  }
  cdl.dimensions.sort();
  for (const v of cdl.variables.values()) v.attributes.sort();
  cdl.globals.sort();
  return cdl;
}

/**
 * What ncdump of the local file should look like over DAP2 (NetCDF-3 files):
 * negative byte attributes other than _FillValue/missing_value become short;
 * char variables gain `DODS.strlen`/`DODS.dimName`; the record dimension is
 * named in `DODS_EXTRA.Unlimited_Dimension`; a scalar char becomes `char x(maxStrlen1)`.
 */
export function expectedOverDap(local: Cdl): Cdl {
  const promote = (attr: string) =>
    /= (.*-\d+b.*) ;$/.test(attr) && !/:(_FillValue|missing_value) =/.test(attr)
      ? attr.replace(/(-?\d+)b\b/g, '$1s')
      : attr;
  const variables = new Map<string, { declaration: string; attributes: string[] }>();
  for (const [name, v] of local.variables) {
    const attributes = v.attributes.map(promote);
    let declaration = v.declaration;
    const type = declaration.split(/\s+/)[0];
    if (type === 'char') {
      const dims = /\(([^)]*)\)/.exec(declaration)?.[1]?.split(', ') ?? [];
      const last = dims[dims.length - 1];
      if (last) {
        const size = /(\S+) = (\d+)/;
        const len = local.dimensions.map((d) => size.exec(d)).find((m) => m?.[1] === last)?.[2];
        attributes.push(`${name}:DODS.strlen = ${len} ;`, `${name}:DODS.dimName = "${last}" ;`);
      } else {
        declaration = declaration.replace(/ ;$/, '(maxStrlen1) ;');
        attributes.push(`${name}:DODS.strlen = 1 ;`);
      }
    }
    attributes.sort();
    variables.set(name, { declaration, attributes });
  }
  const dimensions = [...local.dimensions];
  if ([...variables.values()].some((v) => v.declaration.includes('(maxStrlen1)'))) {
    dimensions.push('maxStrlen1 = 1 ;');
    dimensions.sort();
  }
  const globals = local.globals.map(promote);
  const unlimited = /^(\S+) = UNLIMITED/.exec(local.dimensions.find((d) => d.includes('UNLIMITED')) ?? '');
  if (unlimited) globals.push(`:DODS_EXTRA.Unlimited_Dimension = "${unlimited[1]}" ;`);
  globals.sort();
  return { dimensions, variables, globals, data: local.data };
}

/** Maps as sorted entry lists, so jest shows a readable diff. */
export function comparable(cdl: Cdl): Record<string, unknown> {
  return {
    dimensions: cdl.dimensions,
    variables: Object.fromEntries([...cdl.variables].sort(([a], [b]) => (a < b ? -1 : 1))),
    globals: cdl.globals,
    data: Object.fromEntries([...cdl.data].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}
