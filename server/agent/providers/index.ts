/** The model providers behind one function: a chat names a provider and a model. */
import { createAnthropicProvider } from "./anthropic.js";
import { createOpenAiProvider } from "./openai.js";
import type { ModelProvider, ProviderConfig, ProviderName } from "./provider.js";
import { createScriptedProvider } from "./scripted.js";

export * from "./provider.js";
export { createAnthropicProvider } from "./anthropic.js";
export { createOpenAiProvider } from "./openai.js";
export { createScriptedProvider, isScriptName } from "./scripted.js";
export { missingKeyError, toProviderError } from "./errors.js";

/**
 * The provider for a chat. `model` matters only to scripted, where it names the script; the real
 * providers take the model from each request.
 */
export function createProvider(name: ProviderName, model: string, config: ProviderConfig): ModelProvider {
  switch (name) {
    case "openai":
      return createOpenAiProvider(config.openai);
    case "anthropic":
      return createAnthropicProvider(config.anthropic);
    case "scripted":
      return createScriptedProvider(config.scriptsDir, model);
    default: {
      const unknown: never = name;
      throw new Error(`unknown provider ${String(unknown)}`);
    }
  }
}
