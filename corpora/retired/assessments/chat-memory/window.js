// Builds the message list sent to the chat-completion API for one turn:
// the system prompt, then as much of the recent conversation as fits the budget.

const CHARS_PER_TOKEN = 4;
const PER_MESSAGE_OVERHEAD = 4;

export function estimateTokens(message) {
  let text = message.content ?? '';
  if (message.tool_calls) {
    text += JSON.stringify(message.tool_calls);
  }
  return Math.ceil(text.length / CHARS_PER_TOKEN) + PER_MESSAGE_OVERHEAD;
}

/**
 * @param {string} systemPrompt
 * @param {Array<object>} history   oldest first, as stored by MemoryStore
 * @param {number} contextLimit     the model's context window, in tokens
 * @param {number} reserveForReply  tokens kept free for the completion
 */
export function buildWindow(systemPrompt, history, contextLimit, reserveForReply = 1024) {
  const system = { role: 'system', content: systemPrompt };
  let budget = contextLimit - reserveForReply - estimateTokens(system);
  if (budget <= 0) {
    throw new Error('system prompt leaves no room for the conversation');
  }

  const kept = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const cost = history[i].tokens ?? estimateTokens(history[i]);
    if (cost > budget) break;
    budget -= cost;
    kept.push(history[i]);
  }
  kept.reverse();

  // The API rejects unknown fields on messages, so strip our bookkeeping.
  const messages = kept.map(({ tokens, ...m }) => m);
  return [system, ...messages];
}

export function lastUserMessage(history) {
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i].role === 'user') return history[i];
  }
  return null;
}
