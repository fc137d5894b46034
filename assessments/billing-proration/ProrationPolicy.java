package com.tally.billing;

import java.time.LocalDate;
import java.time.YearMonth;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/** Splits a month's base fee between the plans an account was on during the month. */
public interface ProrationPolicy {

    /**
     * Base-fee lines for {@code month}, given the plan on its first day and the plan changes
     * that took effect during it, ordered by effective date.
     */
    List<InvoiceLine> baseFees(YearMonth month, String openingPlanId, List<PlanChange> changes,
                               PlanCatalog catalog);
}

/** Looks proration policies up by the name configured in {@code billing.properties}. */
final class ProrationPolicies {

    private static final Map<String, Supplier<ProrationPolicy>> REGISTRY = new HashMap<>();

    static {
        register("daily", DailyProration::new);
    }

    private ProrationPolicies() {
    }

    static void register(String name, Supplier<ProrationPolicy> factory) {
        REGISTRY.put(name.toLowerCase(Locale.ROOT), factory);
    }

    static ProrationPolicy forName(String name) {
        Supplier<ProrationPolicy> factory = REGISTRY.get(name.toLowerCase(Locale.ROOT));
        if (factory == null) {
            throw new IllegalArgumentException("unknown proration policy: " + name);
        }
        return factory.get();
    }
}

/** Charges each plan for the days of the month it was active. */
final class DailyProration implements ProrationPolicy {

    @Override
    public List<InvoiceLine> baseFees(YearMonth month, String openingPlanId,
                                      List<PlanChange> changes, PlanCatalog catalog) {
        int daysInMonth = month.lengthOfMonth();
        List<InvoiceLine> lines = new ArrayList<>();
        LocalDate segmentStart = month.atDay(1);
        String planId = openingPlanId;
        for (PlanChange change : changes) {
            if (change.effective().isAfter(segmentStart)) {
                lines.add(fee(catalog.plan(planId), segmentStart, change.effective(), daysInMonth));
                segmentStart = change.effective();
            }
            planId = change.toPlanId();
        }
        lines.add(fee(catalog.plan(planId), segmentStart, month.plusMonths(1).atDay(1), daysInMonth));
        return lines;
    }

    private static InvoiceLine fee(Plan plan, LocalDate from, LocalDate until, int daysInMonth) {
        long days = ChronoUnit.DAYS.between(from, until);
        // Finance policy: a prorated fee is rounded down to the cent, in the customer's favour.
        long cents = plan.monthlyFeeCents() * days / daysInMonth;
        return new InvoiceLine(plan.name() + " (" + days + "/" + daysInMonth + " days)", cents);
    }
}
