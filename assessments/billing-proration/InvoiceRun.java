package com.tally.billing;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Computes, stores and charges the invoices of one billing month. */
public final class InvoiceRun {

    private static final Logger LOG = Logger.getLogger(InvoiceRun.class.getName());
    private static final int PAGE_SIZE = 1000;
    private static final int MAX_CHARGE_ATTEMPTS = 4;

    private final AccountStore accounts;
    private final UsageStore usage;
    private final InvoiceStore invoices;
    private final PlanCatalog catalog;
    private final PaymentGateway gateway;
    private final ProrationPolicy proration;
    private final int threads;

    public InvoiceRun(AccountStore accounts, UsageStore usage, InvoiceStore invoices,
                      PlanCatalog catalog, PaymentGateway gateway, String prorationPolicy,
                      int threads) {
        this.accounts = accounts;
        this.usage = usage;
        this.invoices = invoices;
        this.catalog = catalog;
        this.gateway = gateway;
        this.proration = ProrationPolicies.forName(prorationPolicy);
        this.threads = threads;
    }

    public RunReport run(YearMonth month) throws InterruptedException {
        List<Account> due = accounts.dueForInvoice(month);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<String> failed = new ArrayList<>();
        long billedCents = 0;
        try {
            Map<String, Future<Invoice>> pending = new LinkedHashMap<>();
            for (Account acct : due) {
                pending.put(acct.id(), pool.submit(() -> bill(acct, month)));
            }
            for (Map.Entry<String, Future<Invoice>> entry : pending.entrySet()) {
                try {
                    billedCents += entry.getValue().get().totalCents();
                } catch (ExecutionException e) {
                    // One account must not stop the run; the report lists it for the rerun.
                    LOG.log(Level.WARNING, "invoice failed for " + entry.getKey(), e.getCause());
                    failed.add(entry.getKey());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.println("billed " + (due.size() - failed.size()) + " accounts for " + month);
        return new RunReport(month, due.size() - failed.size(), failed, billedCents);
    }

    Invoice bill(Account account, YearMonth month) throws InterruptedException {
        Window window = billingWindow(month, account.zone());
        List<UsageRecord> records = fetchUsage(account.id(), window);

        List<InvoiceLine> lines = new ArrayList<>(proration.baseFees(
                month, account.planIdOn(month.atDay(1)), account.planChangesIn(month), catalog));
        Plan closingPlan = catalog.plan(account.planIdOn(month.atEndOfMonth()));
        lines.addAll(meteredCharges(closingPlan, records));

        long total = lines.stream().mapToLong(InvoiceLine::cents).sum();
        Invoice draft = new Invoice(account.id(), month, lines, total, null);
        invoices.save(draft);
        if (total == 0) {
            return draft;
        }
        Invoice charged = draft.withChargeId(charge(account, draft));
        invoices.save(charged);
        return charged;
    }

    /** The billing month in the account's time zone, as a half-open interval [from, to). */
    static Window billingWindow(YearMonth month, ZoneId zone) {
        Instant from = month.atDay(1).atStartOfDay(zone).toInstant();
        Instant to = month.plusMonths(1).atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        return new Window(from, to);
    }

    private List<UsageRecord> fetchUsage(String accountId, Window window) {
        List<UsageRecord> records = new ArrayList<>();
        long afterId = 0;
        while (true) {
            List<UsageRecord> page =
                    usage.page(accountId, window.from(), window.to(), afterId, PAGE_SIZE);
            records.addAll(page);
            if (page.size() <= PAGE_SIZE) {
                break;
            }
            afterId = page.get(page.size() - 1).id();
        }
        return records;
    }

    private static List<InvoiceLine> meteredCharges(Plan plan, List<UsageRecord> records) {
        Map<String, Long> quantities = new TreeMap<>();
        for (UsageRecord r : records) {
            quantities.merge(r.meter(), r.quantity(), Long::sum);
        }
        List<InvoiceLine> lines = new ArrayList<>();
        for (Map.Entry<String, Long> e : quantities.entrySet()) {
            BigDecimal cents = plan.unitPriceCents(e.getKey())
                    .multiply(BigDecimal.valueOf(e.getValue()))
                    .setScale(0, RoundingMode.HALF_EVEN);
            lines.add(new InvoiceLine(e.getKey() + " x " + e.getValue(), cents.longValueExact()));
        }
        return lines;
    }

    private String charge(Account account, Invoice invoice) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            String idempotencyKey = UUID.randomUUID().toString();
            try {
                return gateway.charge(account.paymentRef(), invoice.totalCents(), idempotencyKey);
            } catch (GatewayTimeoutException | GatewayUnavailableException e) {
                if (attempt == MAX_CHARGE_ATTEMPTS) {
                    throw e;
                }
                Thread.sleep(250L << attempt);
            }
        }
    }

    record Window(Instant from, Instant to) {}
}
