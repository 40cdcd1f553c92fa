// What polkit shows a person must read as what it is. A value from an image
// or a caller (a filesystem label, a name) could carry terminal escapes,
// line breaks or bidirectional overrides that make a dialog say something
// else; those go, everything printable stays.
const CONTROL_AND_FORMAT = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

export function plainText(value: string): string {
  return value.replace(CONTROL_AND_FORMAT, '');
}
