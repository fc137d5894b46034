package com.acme.llmgateway.cache;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;

/** The hosted model API; the real HTTP client lives in llm-gateway-http. */
interface ModelClient {
    Completion complete(CompletionRequest request, Duration timeout) throws ModelException;
}

record CompletionRequest(String tenantId, String model, String systemPrompt, String userPrompt,
                         double temperature, int maxTokens) {}

record Completion(String text, String finishReason, int promptTokens, int completionTokens) {}

class ModelException extends Exception {
    ModelException(String message) { super(message); }
    ModelException(String message, Throwable cause) { super(message, cause); }
}

class DeadlineExceededException extends ModelException {
    DeadlineExceededException(String message) { super(message); }
}

interface CacheKeyStrategy {
    String keyFor(CompletionRequest request);
}

final class CacheKeyStrategies {
    private CacheKeyStrategies() {}

    static CacheKeyStrategy defaultStrategy() {
        return new PromptHashKeyStrategy();
    }
}

final class PromptHashKeyStrategy implements CacheKeyStrategy {
    @Override
    public String keyFor(CompletionRequest request) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(request.model().getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(request.userPrompt().getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(Integer.toString(request.maxTokens()).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

/** Answers deterministic completion requests from a per-tenant cache, one upstream call per key. */
public class CachedCompletionClient {
    private static final Logger log = Logger.getLogger(CachedCompletionClient.class.getName());

    private final ModelClient model;
    private final TenantResponseCache cache;
    private final CacheKeyStrategy keys;
    private final ConcurrentHashMap<String, CompletableFuture<Completion>> inFlight =
            new ConcurrentHashMap<>();
    public long hits, misses;

    public CachedCompletionClient(ModelClient model, TenantResponseCache cache) {
        this.model = model;
        this.cache = cache;
        this.keys = CacheKeyStrategies.defaultStrategy();
    }

    public Completion complete(CompletionRequest req, Duration deadline) throws ModelException {
        if (req.temperature() > 0.0) {
            return model.complete(req, deadline);
        }
        long start = System.nanoTime();
        String key = req.tenantId() + "/" + keys.keyFor(req);

        Completion cached = cache.get(req.tenantId(), key);
        if (cached != null) {
            hits++;
            return cached;
        }
        misses++;

        CompletableFuture<Completion> mine = new CompletableFuture<>();
        CompletableFuture<Completion> leader = inFlight.putIfAbsent(key, mine);
        if (leader != null) {
            return await(leader, deadline.minusNanos(System.nanoTime() - start));
        }

        // the request that held the slot before us may have filled the cache and left
        Completion filled = cache.get(req.tenantId(), key);
        if (filled != null) {
            mine.complete(filled);
            inFlight.remove(key);
            return filled;
        }

        try {
            Completion result = model.complete(req, deadline.minusNanos(System.nanoTime() - start));
            if (!"length".equals(result.finishReason())) {
                cache.put(req.tenantId(), key, result);
            }
            mine.complete(result);
            inFlight.remove(key);
            return result;
        } catch (ModelException e) {
            log.warning("model call failed for tenant " + req.tenantId() + ": " + e.getMessage());
            mine.completeExceptionally(e);
            throw e;
        }
    }

    private Completion await(CompletableFuture<Completion> leader, Duration remaining)
            throws ModelException {
        try {
            return leader.get(Math.max(0, remaining.toMillis()), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new DeadlineExceededException("deadline passed waiting for an identical request");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ModelException me) {
                throw me;
            }
            throw new ModelException("identical request failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelException("interrupted while waiting", e);
        }
    }
}
