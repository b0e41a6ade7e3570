/**
 * Turns a title into a URL slug: lower case, words joined by single dashes.
 * @example slugify("Hello, World!") // => "hello-world"
 * @example slugify("  Tracedeck   demo  ") // => "tracedeck-demo"
 */
export function slugify(text) {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/**
 * Upper-cases the first letter of every word.
 * @example titleCase("the quick brown fox") // => "The Quick Brown Fox"
 */
export function titleCase(text) {
  return text.replace(/\b[a-z]/g, (letter) => letter.toUpperCase());
}

/**
 * Shortens a text to at most `max` characters, ending it with an ellipsis when cut.
 * @example truncate("abcdefgh", 5) // => "abcd…"
 * @example truncate("abc", 5) // => "abc"
 */
export function truncate(text, max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
