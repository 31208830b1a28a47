// The lint rule behind "apps import only libs" (eslint.config.mjs uses it).
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/**
 * Apps import only libs: a file under apps/X never imports from apps/Y. What
 * two apps share belongs in libs/. Standalone composes the services through
 * each app's public module file (apps/Y/src/Y.module.ts) and nothing else.
 */
export const appBoundaries = {
  meta: {
    type: 'problem',
    messages: {
      crossApp: 'apps/{{from}} must not import from apps/{{to}} ({{source}}): move what both need into libs/',
      standalone: 'standalone composes apps/{{to}} only through apps/{{to}}/src/{{to}}.module ({{source}})',
    },
    schema: [],
  },
  create(context) {
    const appOf = (file) => {
      const parts = relative(ROOT, file).split(/[\\/]/);
      return parts[0] === 'apps' && parts.length > 2 ? parts[1] : null;
    };
    const from = appOf(context.filename);
    if (!from) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = resolve(dirname(context.filename), source);
      const to = appOf(target);
      if (!to || to === from) return;
      const data = { from, to, source };
      if (from !== 'standalone') return context.report({ node, messageId: 'crossApp', data });
      const publicModule = resolve(ROOT, 'apps', to, 'src', `${to}.module`);
      if (target.replace(/\.ts$/, '') !== publicModule)
        context.report({ node, messageId: 'standalone', data });
    };
    const fromSource = (node) => node.source && check(node, node.source.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};
