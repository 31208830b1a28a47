import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const EXAMPLE_FLOW = join('flows', 'beamline-example.json');
/** Flow variable the example's watch node reads (`${CLIMCAT_BEAMLINE_DIR}`). */
export const BEAMLINE_DIR_VARIABLE = 'CLIMCAT_BEAMLINE_DIR';

interface FlowNode {
  id: string;
  type: string;
  disabled?: boolean;
  [property: string]: unknown;
}

/**
 * First start (no flows file yet): installs the beamline example with its tab
 * disabled, so a newcomer finds it in the editor but nothing watches or
 * ingests until someone enables it. The directory it watches comes from the
 * global environment (Settings → Environment in the editor), preset to
 * `beamlineDir`. Returns false when a flows file exists (never overwritten).
 */
export function installExampleFlow(flowFile: string, nodesPackageDir: string, beamlineDir: string): boolean {
  if (existsSync(flowFile)) return false;
  const example = JSON.parse(readFileSync(join(nodesPackageDir, EXAMPLE_FLOW), 'utf8')) as FlowNode[];
  const flows: FlowNode[] = [
    ...example.map((node) => (node.type === 'tab' ? { ...node, disabled: true } : node)),
    {
      id: randomBytes(8).toString('hex'),
      type: 'global-config',
      env: [{ name: BEAMLINE_DIR_VARIABLE, value: beamlineDir, type: 'str' }],
      modules: {},
    },
  ];
  writeFileSync(flowFile, `${JSON.stringify(flows, null, 4)}\n`, { flag: 'wx' });
  return true;
}
