// Credential shapes secretlint's recommended rules (secret-rules.ts) do not cover, added by hand.
// Each one is a shape with a fixed prefix or a context that prose, ids and hashes do not have.

/** [start, end) of a secret in a text, in UTF-16 code units. */
export type TextRange = readonly [start: number, end: number];

export interface SecretRule {
  id: string;
  /**
   * A regular expression source that matches wherever the rule can find a secret: the prefilter
   * that decides whether the rule runs on a value. Null: it runs on every value.
   */
  anchor: string | null;
  /** Where the secrets are in text. */
  find(text: string): TextRange[];
}

/** The ranges of one capturing group (0: the whole match) of every match of a pattern with flags "dg". */
function groupRanges(pattern: RegExp, text: string, group: number, keep: (secret: string) => boolean = () => true): TextRange[] {
  const ranges: TextRange[] = [];
  for (const match of text.matchAll(pattern)) {
    const at = match.indices?.[group];
    if (at && at[1] > at[0] && keep(match[group]!)) ranges.push(at);
  }
  return ranges;
}

/** A token (not a word of prose): letters and digits both. */
const tokenLike = (s: string) => /[0-9]/.test(s) && /[A-Za-z]/.test(s);

/** A password that is a reference, not a value: $VAR, ${VAR}, {{var}}, <password>, ****, or already redacted. */
const isPlaceholder = (s: string) => /^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*\}\}|<[^>]*>|\*+|\[redacted\]|%s|x-oauth-basic)$/.test(s);

export const handRules: readonly SecretRule[] = [
  {
    // Any scheme's user:password@ (secretlint knows postgres, mysql, mongodb, http and ftp only):
    // redis://:pw@, amqp://user:pw@, rediss://, smtp://… Only the password goes; user and host stay.
    id: "url-password",
    anchor: ":\\/\\/[^\\s\\/:]{0,256}:[^\\s\\/@]{0,256}@",
    find: (text) => groupRanges(/:\/\/[^\s:@/?#"'<>]{0,256}:([^\s@/"'<>]{1,256})@/dg, text, 1, (p) => !isPlaceholder(p)),
  },
  {
    // An HTTP bearer token (Authorization: Bearer …, curl -H, logged headers). A token, not prose:
    // at least 16 characters with letters and digits, so "the Bearer of this" stays.
    id: "bearer-token",
    anchor: "[Bb]earer\\s|BEARER\\s",
    find: (text) => groupRanges(/\b(?:[Bb]earer|BEARER)\s+([A-Za-z0-9\-._~+/]{16,}=*)/dg, text, 1, tokenLike),
  },
  {
    // Authorization: Basic <base64 of user:password>.
    id: "basic-auth-header",
    anchor: "[Bb]asic\\s",
    find: (text) => groupRanges(/[Aa]uthorization["']?\s*[:=]\s*["']?[Bb]asic\s+([A-Za-z0-9+/]{8,}={0,2})/dg, text, 1),
  },
  {
    // A JSON Web Token: base64url of {"… twice (header and payload), then a signature.
    id: "jwt",
    anchor: "eyJ",
    find: (text) => groupRanges(/(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}(?![A-Za-z0-9_-])/dg, text, 0),
  },
  {
    // Stripe secret and restricted keys (publishable pk_ keys are public).
    id: "stripe-key",
    anchor: "[sr]k_(?:live|test)_",
    find: (text) => groupRanges(/(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}(?![A-Za-z0-9])/dg, text, 0),
  },
  {
    // A Google API key.
    id: "google-api-key",
    anchor: "AIza",
    find: (text) => groupRanges(/(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/dg, text, 0),
  },
  {
    // OpenAI project, service-account and admin keys, also when cut short or without the marker
    // the rule set requires ("T3BlbkFJ"): the prefix alone names the key.
    id: "openai-key",
    anchor: "sk-(?:proj|svcacct|admin)-",
    find: (text) => groupRanges(/(?<![A-Za-z0-9_-])sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}/dg, text, 0),
  },
  {
    // Anthropic keys of every kind: the rule set knows sk-ant-api0N only, not admin keys or the
    // OAuth tokens Claude Code keeps (sk-ant-oat01-, sk-ant-ort01-).
    id: "anthropic-key",
    anchor: "sk-ant-",
    find: (text) => groupRanges(/(?<![A-Za-z0-9_-])sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]{40,}/dg, text, 0),
  },
  {
    // AWS credentials next to their names (env, credentials files, `aws sts` JSON): the session
    // token the rule set does not know, and secret keys it misses when they end in + or / (its
    // pattern ends with \b).
    id: "aws-credential-by-name",
    anchor: "[Ss]ecret_?[Aa]ccess|SECRET_?ACCESS|[Ss]ession_?[Tt]oken|SESSION_TOKEN",
    find: (text) =>
      groupRanges(
        /(?:[Ss]ecret_?[Aa]ccess_?[Kk]ey|SECRET_?ACCESS_?KEY|[Ss]ession_?[Tt]oken|SESSION_TOKEN)["']?\s*(?::|=>|=)\s*["']?([A-Za-z0-9/+=]{40,})/dg,
        text,
        1,
      ),
  },
  {
    // Any private key block, whatever its algorithm: the rule set wants a body starting "MI" (a DER
    // length over 127), so it misses EC P-256 keys ("MHc…") and PGP blocks. The body goes; the
    // armour lines stay, saying what was there. The body stops at the next "-----", so a BEGIN
    // without its END costs a scan to the next armour line, not to the end of the text.
    id: "private-key-block",
    anchor: "PRIVATE KEY",
    find: (text) =>
      groupRanges(/-----BEGIN ([A-Z0-9 ]{0,40})PRIVATE KEY( BLOCK)?-----\s*((?:[^-]|-(?!----)){16,20000}?)\s*-----END \1PRIVATE KEY\2-----/dg, text, 3, (body) =>
        /[A-Za-z0-9+/=]{16}/.test(body),
      ),
  },
  {
    // SendGrid keys: the rule set's pattern takes \w only, and real keys hold - and _ too.
    id: "sendgrid-key",
    anchor: "SG\\.",
    find: (text) => groupRanges(/(?<![A-Za-z0-9_-])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/dg, text, 0),
  },
];
