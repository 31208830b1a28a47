/** Text escaping shared by the XML writers (THREDDS catalogs, ESGF Solr XML). */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const INVALID_XML_CHARS = /[\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g;

/** `value` as XML text or attribute content. */
export function escapeXml(value: string): string {
  return (
    value
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // Characters XML 1.0 cannot carry at all (even escaped) become U+FFFD.
      .replace(INVALID_XML_CHARS, '\ufffd')
  );
}
