// What polkit shows a person must read as what it is. A value from an image
// or a caller (a filesystem label, a name) could carry terminal escapes,
// line breaks or bidirectional overrides that make a dialog say something
// else; those go, everything printable stays.
const CONTROL_AND_FORMAT = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

export function plainText(value: string): string {
  return value.replace(CONTROL_AND_FORMAT, '');
}

/**
 * Like plainText, but each removed character leaves a U+FFFD behind, so a
 * path stays distinct from the one without it: a rule allowing
 * /srv/vetted/x.img must not match a file named "x<newline>.img".
 */
export function visibleText(value: string): string {
  return value.replace(CONTROL_AND_FORMAT, '\uFFFD');
}
