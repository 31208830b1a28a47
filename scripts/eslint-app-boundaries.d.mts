import type { Rule } from 'eslint';

export declare const appBoundaries: Rule.RuleModule;
