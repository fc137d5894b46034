// In-process conversation memory for the assistant API. One instance per worker;
// the sticky load balancer routes a conversation to the same worker for its lifetime.

import { estimateTokens } from './window.js';

const DEFAULT_MODEL = 'gpt-4o-mini';

export class MemoryStore {
  /**
   * @param {object} opts
   * @param {number} opts.maxTotalTokens  memory budget for the whole worker
   * @param {number} opts.max_messages    per-conversation history cap
   * @param {number} opts.ttlMinutes      idle time after which a conversation is forgotten
   */
  constructor({ maxTotalTokens = 2_000_000, max_messages = 200, ttlMinutes = 30 } = {}) {
    this.maxTotalTokens = maxTotalTokens;
    this.maxMessages = max_messages;
    this.ttl = ttlMinutes * 60;
    this.conversations = new Map();
    this.totalTokens = 0;
  }

  get(conversationId) {
    const conv = this.conversations.get(conversationId);
    if (!conv) return null;
    if (this.#expired(conv, Date.now())) {
      this.#drop(conversationId);
      return null;
    }
    return conv;
  }

  append(conversationId, userId, message) {
    let conv = this.get(conversationId);
    if (!conv) {
      conv = { userId, messages: [], tokens: 0, lastActive: 0 };
    } else if (conv.userId !== userId) {
      throw new Error(`conversation ${conversationId} belongs to another user`);
    }

    const tokens = estimateTokens(message);
    conv.messages.push({ ...message, tokens });
    conv.tokens += tokens;
    this.totalTokens += tokens;

    if (conv.messages.length > this.maxMessages) {
      const dropped = conv.messages.splice(0, conv.messages.length - this.maxMessages);
      for (const m of dropped) {
        conv.tokens -= m.tokens;
        this.totalTokens -= m.tokens;
      }
    }

    conv.lastActive = Date.now();
    this.conversations.set(conversationId, conv);
    this.#evictIfFull(conversationId);
    return conv;
  }

  // Called every minute from a setInterval in server.js.
  sweep(now = Date.now()) {
    let removed = 0;
    for (const [id, conv] of this.conversations) {
      if (this.#expired(conv, now)) {
        this.#drop(id);
        removed++;
      }
    }
    return removed;
  }

  #expired(conv, now) {
    return now - conv.lastActive > this.ttl;
  }

  #evictIfFull(keepId) {
    while (this.totalTokens > this.maxTotalTokens && this.conversations.size > 1) {
      // Map iterates in insertion order, so the first key is the least recently used.
      const oldest = this.conversations.keys().next().value;
      if (oldest === keepId) break;
      this.#drop(oldest);
    }
  }

  #drop(id) {
    const conv = this.conversations.get(id);
    if (!conv) return;
    this.totalTokens -= conv.tokens;
    this.conversations.delete(id);
  }

  stats() {
    var count = this.conversations.size;
    return { conversations: count, totalTokens: this.totalTokens, model: DEFAULT_MODEL };
  }
}
