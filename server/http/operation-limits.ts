import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesPlugin } from "@escape.tech/graphql-armor-max-directives";
import { MaxTokensParserWLexer } from "@escape.tech/graphql-armor-max-tokens";
import { createComplexityRule } from "@pothos/plugin-complexity";
import { BREAK, type DocumentNode, type ExecutionResult, getOperationAST, getVariableValues, GraphQLError, type GraphQLSchema, type Source, validate, type ValidationRule, visit } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { ComplexityContext } from "../schema/complexity.js";

export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxComplexity: number;
  /** Query operations only: 0 for none. */
  operationTimeoutMs: number;
  pages: NonNullable<ComplexityContext["limits"]>;
}

/**
 * Everything an operation may cost, checked before it runs (HTTP and WebSocket alike, since both go
 * through Yoga's envelop): tokens while parsing, then depth, aliases, directives and complexity
 * (page sizes multiply) while validating. On PGlite a long query blocks the event loop, so these
 * bounds are the only protection there; PostgreSQL also has STATEMENT_TIMEOUT_MS.
 */
export function operationLimitPlugins(limits: OperationLimits): Plugin[] {
  return [
    tokenLimitedParse(limits.maxTokens),
    maxDepthPlugin({ n: limits.maxDepth, exposeLimits: true, ignoreIntrospection: true }),
    maxAliasesPlugin({ n: limits.maxAliases, exposeLimits: true }),
    maxDirectivesPlugin({ n: limits.maxDirectives, exposeLimits: true }),
    complexityLimit(limits.maxComplexity, limits.pages),
    ...(limits.operationTimeoutMs > 0 ? [operationTimeout(limits.operationTimeoutMs)] : []),
  ];
}

const badDocument = (message: string) => new GraphQLError(`Syntax Error: ${message}`, { extensions: { code: "GRAPHQL_PARSE_FAILED", http: { status: 400 } } });

/**
 * graphql-armor's token-counting parser. The parser recurses per nesting level, so a document that
 * is deep within the token limit (a 20,000-deep list literal) can still exhaust the stack: that is
 * the client's bad document, answered 400, not a server error.
 */
function tokenLimitedParse(maxTokens: number): Plugin {
  return {
    onParse({ setParseFn }) {
      setParseFn((source: string | Source, options) => {
        try {
          return new MaxTokensParserWLexer(source, { ...options, n: maxTokens, exposeLimits: true }).parseDocument();
        } catch (error) {
          if (error instanceof RangeError) throw badDocument("the document is nested too deeply");
          throw error;
        }
      });
    },
  };
}

/**
 * @pothos/plugin-complexity's rule with the request's variables (a page size is usually a variable),
 * and a validation cache around it. Every other rule's verdict depends on the document alone, so it
 * is kept per parsed document (Yoga's parser cache hands the same DocumentNode back for the same
 * text); the complexity rule then runs on its own, on every request, for a document found valid.
 */
function complexityLimit(maxComplexity: number, pages: OperationLimits["pages"]): Plugin {
  const validated = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  /**
   * Operations (a document and the operation name asked for: only that operation is priced) whose
   * cost no variable can change, priced once and found within the limit.
   */
  const withinLimit = new WeakMap<DocumentNode, Set<string>>();
  const operationOf = (context: unknown) => (context as { params?: { operationName?: string | null } }).params?.operationName ?? "";
  const priced = (schema: GraphQLSchema, document: DocumentNode, context: unknown): GraphQLError[] => {
    const params = (context as { params?: { variables?: unknown; operationName?: string | null } }).params;
    const variables = params?.variables && typeof params.variables === "object" ? (params.variables as Record<string, unknown>) : {};
    const rule = createComplexityRule({ context: { limits: pages } satisfies ComplexityContext, variableValues: variables, operationName: params?.operationName ?? undefined, maxComplexity });
    return [...validate(schema, document, [costOnly(rule)])];
  };
  return {
    onValidate({ context, params: { schema, documentAST }, setResult }) {
      const known = validated.get(documentAST);
      const price = () => {
        // A cost known to be within the limit: the variables are still checked here, as pricing would.
        const operation = operationOf(context);
        if (withinLimit.get(documentAST)?.has(operation)) return badVariables(schema, documentAST, context);
        const refused = priced(schema, documentAST, context);
        if (refused.length === 0 && !costDependsOnVariables(documentAST)) {
          const known = withinLimit.get(documentAST) ?? new Set<string>();
          known.add(operation);
          withinLimit.set(documentAST, known);
        }
        return refused;
      };
      if (known) {
        setResult(known.length > 0 ? [...known] : asValidationErrors(price()));
        return;
      }
      return ({ result, setResult: replace }) => {
        validated.set(documentAST, [...(result as GraphQLError[])]);
        if (result.length === 0) {
          const refused = price();
          if (refused.length > 0) replace(asValidationErrors(refused));
        }
      };
    },
  };
}

/**
 * Errors found after Yoga's own after-validation step has run are marked as it marks validation
 * errors (a 400, GRAPHQL_VALIDATION_FAILED unless they carry a code).
 */
function asValidationErrors(errors: GraphQLError[]): GraphQLError[] {
  for (const error of errors) {
    const extensions = error.extensions as { code?: string; http?: { status?: number; spec?: boolean } };
    extensions.code ||= "GRAPHQL_VALIDATION_FAILED";
    extensions.http ||= {};
    extensions.http.spec ??= true;
    extensions.http.status ||= 400;
  }
  return errors;
}

/** The request's variables checked against the operation's definitions (GraphQL's own coercion). */
function badVariables(schema: GraphQLSchema, document: DocumentNode, context: unknown): GraphQLError[] {
  const params = (context as { params?: { variables?: unknown; operationName?: string | null } }).params;
  const variables = params?.variables && typeof params.variables === "object" ? (params.variables as Record<string, unknown>) : {};
  const operation = getOperationAST(document, params?.operationName ?? undefined);
  if (!operation) return [];
  return [...(getVariableValues(schema, operation.variableDefinitions ?? [], variables).errors ?? [])];
}

/**
 * Whether a variable can change the document's cost: only page sizes (first, last) and the ids of
 * nodes(ids) are multipliers (schema/complexity.ts). A mutation's input never is, so its document is
 * priced once (a bad variable is still refused, by execution's own coercion).
 */
function costDependsOnVariables(document: DocumentNode): boolean {
  let depends = false;
  visit(document, {
    Argument(node) {
      if (!["first", "last", "ids"].includes(node.name.value)) return false;
      visit(node.value, { Variable: () => ((depends = true), BREAK) });
      return depends ? BREAK : false;
    },
  });
  return depends;
}

/**
 * The complexity rule prices arguments by coercing them, and throws from its visitor when a
 * literal argument is invalid: GraphQL's own validation reports that argument with the scalar's
 * message (a DateTime's, for example), so the rule's throw is left out rather than answered in
 * its place. Errors the rule reports (cost, bad variables) pass as they are.
 */
function costOnly(rule: ValidationRule): ValidationRule {
  return (context) => {
    const visitor = rule(context) as { OperationDefinition?: { enter?: (...args: unknown[]) => unknown; leave?: (...args: unknown[]) => unknown } };
    const guarded = (step?: (...args: unknown[]) => unknown) => (...args: unknown[]) => {
      try {
        return step?.(...args);
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
      }
    };
    return { OperationDefinition: { enter: guarded(visitor.OperationDefinition?.enter), leave: guarded(visitor.OperationDefinition?.leave) } };
  };
}

/**
 * A query answering later than the budget gets OPERATION_TIMEOUT. Mutations are left to finish: a
 * write the client was told had failed must not then commit.
 */
function operationTimeout(ms: number): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== "query") return;
      setExecuteFn(async (executeArgs) => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<ExecutionResult>((resolve) => {
          timer = setTimeout(
            () =>
              resolve({
                errors: [new GraphQLError(`The query took longer than ${ms} ms (OPERATION_TIMEOUT_MS)`, { extensions: { code: "OPERATION_TIMEOUT", http: { status: 503 } } })],
              }),
            ms,
          );
        });
        try {
          return await Promise.race([executeFn(executeArgs) as Promise<ExecutionResult>, timedOut]);
        } finally {
          clearTimeout(timer);
        }
      });
    },
  };
}
