/** Constants of the native segment format that pure modules need without loading the addon. */

/** Marks a missing result in search output. */
export const NO_LABEL = 0xffffffff;
/** Largest label a segment accepts. */
export const MAX_LABEL = 0xfffffffe;
