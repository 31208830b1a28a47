import type { ClimcatNodeApi } from './climcat-node-api';

/** Where Node-RED lives under our HTTP server. */
export const ADMIN_ROOT = '/red';
export const NODE_ROOT = '/red/api';
export const FLOW_FILE = 'flows.json';

/** One Node-RED log record (@node-red/util log.js). */
export interface NodeRedLogRecord {
  /** 10 fatal, 20 error, 30 warn, 40 info, 50 debug, 60 trace, 98 audit, 99 metric. */
  level: number;
  msg: unknown;
  /** Set when a node logged: its type, name and id. */
  type?: string;
  name?: string;
  id?: string;
}

export type NodeRedLogSink = (record: NodeRedLogRecord) => void;

/** The Node-RED settings climcat sets (the rest keep Node-RED's defaults). */
export interface NodeRedSettings {
  userDir: string;
  flowFile: string;
  flowFilePretty: boolean;
  credentialSecret: string;
  httpAdminRoot: string | false;
  httpNodeRoot: string;
  nodesDir: string[];
  apiMaxLength: string;
  logging: Record<string, { level: string; metrics: boolean; audit: boolean; handler: () => NodeRedLogSink }>;
  editorTheme: Record<string, unknown>;
  paletteCategories: string[];
  diagnostics: { enabled: boolean; ui: boolean };
  runtimeState: { enabled: boolean; ui: boolean };
  telemetry: { enabled: boolean; updateNotification: boolean };
  externalModules: Record<string, unknown>;
  functionExternalModules: boolean;
  exportGlobalContextKeys: boolean;
  /** What the climcat nodes call in-process (`RED.settings.climcat`). */
  climcat: ClimcatNodeApi;
}

export interface SettingsInput {
  userDir: string;
  credentialSecret: string;
  /** False = headless: no editor, no admin API. */
  editor: boolean;
  /** The climcat node package (apps/ingestor/node-red). */
  nodesPackageDir: string;
  log: NodeRedLogSink;
  api: ClimcatNodeApi;
}

/**
 * Node-RED settings for an embedded, offline runtime: nothing phones home
 * (telemetry and update checks, diagnostics and runtime-state endpoints,
 * palette catalogue, npm installs), projects are off, logs go to our logger.
 */
export function nodeRedSettings(input: SettingsInput): NodeRedSettings {
  return {
    userDir: input.userDir,
    flowFile: FLOW_FILE,
    flowFilePretty: true,
    credentialSecret: input.credentialSecret,
    httpAdminRoot: input.editor ? ADMIN_ROOT : false,
    httpNodeRoot: NODE_ROOT,
    nodesDir: [input.nodesPackageDir],
    // Our JSON body parser (5 MB) runs first; keep Node-RED's own limit the same.
    apiMaxLength: '5mb',
    logging: {
      // Only handlers named here run: no "console" entry means nothing goes to stdout around our logger.
      climcat: { level: 'warn', metrics: false, audit: false, handler: () => input.log },
    },
    editorTheme: {
      page: { title: 'climcat Node-RED' },
      header: { title: 'climcat Node-RED' },
      projects: { enabled: false },
      // The palette manager would fetch https://catalogue.nodered.org/catalogue.json from the browser.
      palette: { catalogues: [] },
      tours: false,
    },
    paletteCategories: [
      'climcat',
      'subflows',
      'common',
      'function',
      'network',
      'sequence',
      'parser',
      'storage',
    ],
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    externalModules: {
      autoInstall: false,
      palette: { allowInstall: false, allowUpload: false },
      modules: { allowInstall: false },
    },
    functionExternalModules: false,
    exportGlobalContextKeys: false,
    climcat: input.api,
  };
}
