import { attrString, type NcAttribute, type VariableRole } from './model';

interface RoleInput {
  name: string;
  dimensions: string[];
  attributes: NcAttribute[];
}

const BOUNDS_DIMS = new Set(['bnds', 'nv', 'nb2', 'nbnd', 'nbnds', 'bounds', 'vertices', 'nvertex', 'd2']);

/** Names in a CF `grid_mapping` attribute: "crs" or the extended "crs: x y other: lat lon" form. */
export function gridMappingNames(value: string): string[] {
  const tokens = value.split(/\s+/).filter(Boolean);
  const keyed = tokens.filter((t) => t.endsWith(':')).map((t) => t.slice(0, -1));
  return keyed.length > 0 ? keyed : tokens.slice(0, 1);
}

/**
 * CF roles: coordinate variables (1-D, named like their dimension), bounds
 * (named by `bounds`/`climatology`, or `<coord>_bnds` over a bounds dimension),
 * grid mappings (named by `grid_mapping` or carrying `grid_mapping_name`),
 * auxiliary coordinates (named by `coordinates`), and data for the rest.
 */
export function classifyVariables(variables: readonly RoleInput[]): Map<string, VariableRole> {
  const bounds = new Set<string>();
  const mappings = new Set<string>();
  const auxiliary = new Set<string>();
  for (const v of variables) {
    for (const key of ['bounds', 'climatology']) {
      const ref = attrString(v.attributes, key);
      if (ref) bounds.add(ref);
    }
    const gm = attrString(v.attributes, 'grid_mapping');
    if (gm) for (const n of gridMappingNames(gm)) mappings.add(n);
    const coords = attrString(v.attributes, 'coordinates');
    if (coords) for (const n of coords.split(/\s+/).filter(Boolean)) auxiliary.add(n);
  }
  const coordinateNames = new Set(
    variables.filter((v) => v.dimensions.length === 1 && v.dimensions[0] === v.name).map((v) => v.name),
  );
  const roles = new Map<string, VariableRole>();
  for (const v of variables) {
    let role: VariableRole = 'data';
    if (coordinateNames.has(v.name)) role = 'coordinate';
    else if (bounds.has(v.name) || looksLikeBounds(v, coordinateNames)) role = 'bounds';
    else if (mappings.has(v.name) || attrString(v.attributes, 'grid_mapping_name')) role = 'grid_mapping';
    else if (auxiliary.has(v.name)) role = 'auxiliary';
    roles.set(v.name, role);
  }
  return roles;
}

function looksLikeBounds(v: RoleInput, coordinateNames: Set<string>): boolean {
  const last = v.dimensions[v.dimensions.length - 1];
  if (!last || !BOUNDS_DIMS.has(last)) return false;
  const m = /^(.+?)_(bnds|bounds|bnd|vertices)$/.exec(v.name);
  return !!m && (coordinateNames.has(m[1] as string) || m[1] === 'lat' || m[1] === 'lon');
}
