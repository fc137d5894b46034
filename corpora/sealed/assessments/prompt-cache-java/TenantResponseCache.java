package com.acme.llmgateway.cache;

import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Completions kept per tenant, least recently used first out, each tenant within its own byte budget. */
public class TenantResponseCache {

    private static final class Entry {
        final Completion completion;
        final long expiresAtMillis;
        final long sizeBytes;

        Entry(Completion completion, long expiresAtMillis, long sizeBytes) {
            this.completion = completion;
            this.expiresAtMillis = expiresAtMillis;
            this.sizeBytes = sizeBytes;
        }
    }

    private static final class TenantShard {
        final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(256, 0.75f, true);
        long bytes;
    }

    private final ConcurrentHashMap<String, TenantShard> shards = new ConcurrentHashMap<>();
    private final Clock clock;
    private final Duration ttl;
    private final long maxBytesPerTenant;

    public TenantResponseCache(Clock clock, Duration ttl, long maxBytesPerTenant) {
        this.clock = clock;
        this.ttl = ttl;
        this.maxBytesPerTenant = maxBytesPerTenant;
    }

    public Completion get(String tenantId, String key) {
        TenantShard shard = shards.get(tenantId);
        if (shard == null) {
            return null;
        }
        synchronized (shard) {
            Entry e = shard.entries.get(key);
            if (e == null) {
                return null;
            }
            if (clock.millis() >= e.expiresAtMillis) {
                // left in place: the next put for this key overwrites it
                return null;
            }
            return e.completion;
        }
    }

    public void put(String tenantId, String key, Completion completion) {
        long size = estimateSize(key, completion);
        if (size > maxBytesPerTenant) {
            return;
        }
        TenantShard shard = shards.computeIfAbsent(tenantId, t -> new TenantShard());
        synchronized (shard) {
            shard.entries.put(key, new Entry(completion, clock.millis() + ttl.toMillis(), size));
            shard.bytes += size;
            Iterator<Map.Entry<String, Entry>> it = shard.entries.entrySet().iterator();
            while (shard.bytes > maxBytesPerTenant && it.hasNext()) {
                Entry eldest = it.next().getValue();
                it.remove();
                shard.bytes -= eldest.sizeBytes;
            }
        }
    }

    /** Bytes a tenant's entries hold by our estimate; exported as a gauge. */
    public long bytesUsed(String tenantId) {
        TenantShard shard = shards.get(tenantId);
        if (shard == null) {
            return 0;
        }
        synchronized (shard) {
            return shard.bytes;
        }
    }

    public int size(String tenantId) {
        TenantShard shard = shards.get(tenantId);
        if (shard == null) {
            return 0;
        }
        synchronized (shard) {
            return shard.entries.size();
        }
    }

    static long estimateSize(String key, Completion c) {
        return (long) (key.length() + c.text().length()) * 2 + 64;
    }
}
