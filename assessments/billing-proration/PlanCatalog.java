package com.tally.billing;

import java.math.BigDecimal;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Plans by id, read from the catalog database on first use and kept for the life of the
 * process.
 */
public final class PlanCatalog {

    /** Reads one plan version from the catalog database. */
    public interface PlanRepository {
        Optional<Plan> find(String planId);
    }

    private final PlanRepository repository;
    private final Map<String, Plan> plans = new ConcurrentHashMap<>();

    public PlanCatalog(PlanRepository repository) {
        this.repository = repository;
    }

    public Plan plan(String planId) {
        return plans.computeIfAbsent(planId, id -> repository.find(id)
                .orElseThrow(() -> new IllegalStateException("unknown plan " + id)));
    }
}

/**
 * One version of a plan. {@code unitPricesCents} maps each meter to its price per unit in
 * cents, which may be a fraction of a cent (0.04 cents per API request).
 */
record Plan(String id, String name, long monthlyFeeCents, Map<String, BigDecimal> unitPricesCents) {

    BigDecimal unitPriceCents(String meter) {
        BigDecimal price = unitPricesCents.get(meter);
        if (price == null) {
            throw new IllegalStateException("plan " + id + " has no price for meter " + meter);
        }
        return price;
    }
}
