// secretlint's recommended rule set (@secretlint/secretlint-rule-preset-recommend, pinned at 12.0.0,
// the last release that declares Node 20), run through its rule API directly instead of through
// @secretlint/core. Measured on Node 20: core 12's lintSource costs 150-190 µs a call even on 200
// bytes, and its profiler marks every rule of every call and keeps the marks forever, scanning them
// on each new one (3,000 calls: 168,000 entries kept, 53 MB of heap, 35 ms a call on average;
// secretlint issues 1633 and 1653, fixed only in 13.x, which declares Node 22). A server scrubbing
// thousands of writes a second cannot carry that; the rules themselves are plain synchronous code.
import { rules as presetRules } from "@secretlint/secretlint-rule-preset-recommend";
import type { SecretRule, TextRange } from "./secret-patterns.js";

/** The part of secretlint's rule API (@secretlint/types) these rules use. */
interface RuleReport {
  message: { messageId: string; data?: Record<string, unknown> };
  range: readonly [number, number];
}
interface RuleContext {
  sharedOptions: Record<string, unknown>;
  createTranslator(messages: unknown): (messageId: string, data?: Record<string, unknown>) => RuleReport["message"];
  report(descriptor: RuleReport): void;
  ignore(descriptor: unknown): void;
}
interface RuleSource {
  content: string;
  filePath: string | undefined;
  ext: string;
  contentType: "text";
  hasBOM: boolean;
}
interface RuleCreator {
  meta: { id: string };
  create(context: RuleContext, options: Record<string, unknown>): { file?(source: RuleSource): void | Promise<void> };
}

const PRESET = "@secretlint/secretlint-rule-";

/**
 * Rules left out. gcp reads a .p12 or .json FILE given by path and reports the whole file, which a
 * value never is; filter-comments honours "secretlint-disable" comments, and text an agent ran
 * must not be able to switch the scrubber off.
 */
const LEFT_OUT = new Set([`${PRESET}gcp`, `${PRESET}filter-comments`]);

/** Options given to a rule: AWS access key ids (AKIA…, ASIA…) are only scanned when asked for. */
const OPTIONS: Record<string, Record<string, unknown>> = { [`${PRESET}aws`]: { enableIDScanRule: true } };

/** Findings that are no credential: an AWS account id is printed by every `aws sts get-caller-identity`. */
const NOT_SECRET = new Set(["AWSAccountID"]);

/**
 * For each rule, text found wherever the rule can report (read off its patterns): the cheap
 * prefilter that decides which rules run on a value. A rule missing here runs on every value
 * (correct, only slower); a unit test keeps this table complete for the pinned version.
 */
export const RULE_ANCHORS: Record<string, string> = {
  [`${PRESET}aws`]: "A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA|(?:SECRET|[Ss]ecret)_?(?:ACCESS|[Aa]ccess)",
  [`${PRESET}npm`]: "npm_|x-oauth-basic@",
  [`${PRESET}slack`]: "xox[bpaor]-|xapp-|[Hh][Oo][Oo][Kk][Ss]\\.[Ss][Ll][Aa][Cc][Kk]\\.",
  // Both need user:password@ after the scheme.
  [`${PRESET}basicauth`]: ":\\/\\/[^\\s\\/:]{0,256}:[^\\s\\/@]{0,256}@",
  [`${PRESET}database-connection-string`]: ":\\/\\/[^\\s\\/:]{0,256}:[^\\s\\/@]{0,256}@",
  // Every OpenAI key holds "T3BlbkFJ" (base64 of "OpenAI"); the rule requires it.
  [`${PRESET}openai`]: "T3BlbkFJ",
  [`${PRESET}anthropic`]: "sk-ant-api0",
  [`${PRESET}groq`]: "gsk_",
  [`${PRESET}huggingface`]: "hf_",
  [`${PRESET}linear`]: "lin_api_",
  [`${PRESET}notion`]: "ntn_",
  [`${PRESET}privatekey`]: "PRIVATE KEY",
  [`${PRESET}sendgrid`]: "SG\\.",
  [`${PRESET}shopify`]: "shp(?:pa|ca|at|ss)_",
  [`${PRESET}github`]: "gh[pousr]_|github_pat_",
  [`${PRESET}gitlab`]: "glpat-",
  [`${PRESET}grafana`]: "glc_|glsa_",
  [`${PRESET}1password`]: "ops_ey",
  [`${PRESET}hashicorp-vault`]: "hv[sbr]\\.",
  [`${PRESET}vercel`]: "vc[pirak]_",
  [`${PRESET}databricks`]: "dapi",
  [`${PRESET}docker`]: "dckr_pat_",
  [`${PRESET}figma`]: "figd_",
};

/** The ids of the preset's rules that run on values. */
export const presetRuleIds = (): string[] => (presetRules as unknown as RuleCreator[]).map((r) => r.meta.id).filter((id) => !LEFT_OUT.has(id));

// The reports of the rule being run: rules report synchronously, into this.
let reports: RuleReport[] = [];

const context: RuleContext = {
  sharedOptions: {},
  // The message text is never shown: only the id (to skip non-secrets) and the data (the secret found).
  createTranslator: () => (messageId, data) => ({ messageId, data }),
  report: (descriptor) => reports.push(descriptor),
  ignore: () => {},
};

/**
 * The text a report found, as the rule gives it in its message data. Its range is found from that
 * text: the AWS secret key and npmrc rules report the match's start with the secret's length.
 */
function foundText(report: RuleReport): string | undefined {
  const data = report.message.data ?? {};
  for (const key of ["KEY", "TOKEN", "ID", "URI", "URL", "CREDENTIAL"]) {
    const value = data[key];
    if (typeof value === "string" && value !== "") return value;
  }
  return undefined;
}

/** user:password@ in a URL found by a rule: just the password, or the token a GitHub x-oauth-basic URL puts as the user. */
const USERINFO = /:\/\/([^\s:@/?#]*):([^\s@/?#]+)@/;

/** The secret part of what a rule found: a URL's password, a private key's body between its armour lines. */
function secretPart(text: string, start: number, end: number): TextRange {
  const found = text.slice(start, end);
  const url = USERINFO.exec(found);
  if (url) {
    const [whole, user, password] = url as unknown as [string, string, string];
    const passwordAt = start + url.index + whole.length - 1 - password.length;
    return password === "x-oauth-basic" ? [start + url.index + 3, start + url.index + 3 + user.length] : [passwordAt, passwordAt + password.length];
  }
  const armour = /^(-----BEGIN[^\n-]*-----\s*)[\s\S]*?(\s*-----END[^\n-]*-----)$/.exec(found);
  if (armour) return [start + armour[1]!.length, end - armour[2]!.length];
  return [start, end];
}

function rangeOf(text: string, report: RuleReport): TextRange | undefined {
  const [reportedStart, reportedEnd] = report.range;
  const found = foundText(report);
  const at = found === undefined ? -1 : text.indexOf(found, reportedStart);
  const [start, end] = at === -1 ? [reportedStart, reportedEnd] : [at, at + found!.length];
  if (!(start >= 0 && end > start && end <= text.length)) return undefined;
  return secretPart(text, start, end);
}

function toSecretRule(creator: RuleCreator): SecretRule {
  const handler = creator.create(context, OPTIONS[creator.meta.id] ?? {});
  const id = creator.meta.id.replace(PRESET, "secretlint:");
  return {
    id,
    anchor: RULE_ANCHORS[creator.meta.id] ?? null,
    find(text) {
      if (!handler.file) return [];
      reports = [];
      // No filePath: the npm rule then scans as if in package.json, the privatekey rule reads no file.
      const pending = handler.file({ content: text, filePath: undefined, ext: "", contentType: "text", hasBOM: false });
      if (pending instanceof Promise) throw new Error(`${id} reports asynchronously; the scrubber runs rules synchronously`);
      const found = reports;
      reports = [];
      return found.filter((r) => !NOT_SECRET.has(r.message.messageId)).flatMap((r) => {
        const range = rangeOf(text, r);
        return range ? [range] : [];
      });
    },
  };
}

/** The preset's rules, ready to run on a value. */
export const secretlintRules: readonly SecretRule[] = (presetRules as unknown as RuleCreator[]).filter((r) => !LEFT_OUT.has(r.meta.id)).map(toSecretRule);
