/**
 * Tokenisation shared by every adapter so free-text search behaves the same
 * on SQLite and MongoDB: lower-case, split on anything but letters, digits,
 * `-` and `_`; also index the parts of hyphenated words (`HadGEM2-ES` →
 * `hadgem2-es`, `hadgem2`, `es`).
 */
export function tokenize(text: string): string[] {
  const out = new Set<string>();
  for (const raw of text.toLowerCase().split(/[^\p{L}\p{N}_-]+/u)) {
    const word = raw.replace(/^[-_]+|[-_]+$/g, '');
    if (!word) continue;
    out.add(word);
    if (/[-_]/.test(word)) {
      for (const part of word.split(/[-_]+/)) if (part) out.add(part);
    }
  }
  return [...out];
}
