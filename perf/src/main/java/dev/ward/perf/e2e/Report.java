package dev.ward.perf.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;

/**
 * Turns the rows {@code perf/e2e/run.sh} measured into the Markdown report and the PNG chart:
 * medians over the repeats of each cell, ratios to HAProxy and to the upstream called directly,
 * and the targets checked against this run.
 *
 * <pre>java -cp perf/target/benchmarks.jar dev.ward.perf.e2e.Report RESULTS.csv STARTUP.csv MACHINE.txt OUT.md OUT.png</pre>
 */
public final class Report {

    static final String HAPROXY = "haproxy";
    static final String DIRECT = "direct";
    static final String WARD = "ward";
    static final double RSS_TARGET_MIB = 64;
    static final double STARTUP_TARGET_MS = 1000;

    /** One measured row of the CSV. */
    record Row(String proxy, String protocol, int body, int concurrency, int repeat, double rps, double p50Ms,
               double p99Ms, long requests, Double cpuA, Double cpuB, Long rssA, Long rssB, long errors) {

        static Row parse(String header, String line) {
            Map<String, String> f = fields(header, line);
            return new Row(f.get("proxy"), f.get("protocol"), Integer.parseInt(f.get("body_bytes")),
                    Integer.parseInt(f.get("concurrency")), Integer.parseInt(f.get("repeat")),
                    Double.parseDouble(f.get("requests_per_s")), Double.parseDouble(f.get("p50_ms")),
                    Double.parseDouble(f.get("p99_ms")), Long.parseLong(f.get("requests")),
                    optDouble(f.get("cpu_s_a")), optDouble(f.get("cpu_s_b")), optLong(f.get("rss_peak_kib_a")),
                    optLong(f.get("rss_peak_kib_b")), Long.parseLong(f.get("errors")));
        }

        /** CPU seconds of both processes of the pair per 1,000 requests, or null for direct. */
        Double cpuPer1k() {
            return cpuA == null ? null : (cpuA + cpuB) * 1000.0 / Math.max(1, requests);
        }
    }

    /** The medians of one cell (proxy, protocol, body, concurrency) over its repeats. */
    record Cell(String proxy, String protocol, int body, int concurrency, double rps, double p50Ms, double p99Ms,
                Double cpuPer1k, Double rssPeakMibA, Double rssPeakMibB, long errors, int repeats) {

        String label() {
            return "http2".equals(protocol) ? proxy + " (h2)" : proxy;
        }
    }

    /** One start-up measurement. */
    record Startup(double ms, double rssKib) {}

    private final List<Cell> cells;
    private final List<Startup> startups;
    private final List<String> machine;

    Report(List<Row> rows, List<Startup> startups, List<String> machine) {
        this.cells = cells(rows);
        this.startups = startups;
        this.machine = machine;
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 5) {
            System.err.println("usage: Report RESULTS.csv STARTUP.csv MACHINE.txt OUT.md OUT.png");
            System.exit(2);
        }
        Report report = new Report(readRows(Path.of(args[0])), readStartups(Path.of(args[1])),
                Files.readAllLines(Path.of(args[2]), StandardCharsets.UTF_8));
        Files.writeString(Path.of(args[3]), report.markdown(Path.of(args[0]).getFileName().toString(),
                Path.of(args[4]).getFileName().toString()), StandardCharsets.UTF_8);
        Chart.write(report.cells, Path.of(args[4]));
    }

    static List<Row> readRows(Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            throw new IllegalArgumentException(csv + ": empty (expected a header and one row per measurement)");
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            try {
                rows.add(Row.parse(lines.get(0), lines.get(i)));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(csv + " line " + (i + 1) + ": " + e.getMessage(), e);
            }
        }
        return rows;
    }

    static List<Startup> readStartups(Path csv) throws IOException {
        if (!Files.exists(csv)) {
            return List.of();
        }
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        List<Startup> out = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (!lines.get(i).isBlank()) {
                Map<String, String> f = fields(lines.get(0), lines.get(i));
                out.add(new Startup(Double.parseDouble(f.get("startup_ms")), Double.parseDouble(f.get("rss_ready_kib"))));
            }
        }
        return out;
    }

    static List<Cell> cells(List<Row> rows) {
        Map<List<Object>, List<Row>> groups = rows.stream().collect(Collectors.groupingBy(
                r -> List.of(r.proxy(), r.protocol(), r.body(), r.concurrency()), LinkedHashMap::new, Collectors.toList()));
        List<Cell> out = new ArrayList<>();
        for (List<Row> g : groups.values()) {
            Row first = g.get(0);
            List<Double> cpu = g.stream().map(Row::cpuPer1k).filter(Objects::nonNull).toList();
            Optional<Long> rssA = g.stream().map(Row::rssA).filter(Objects::nonNull).max(Long::compare);
            Optional<Long> rssB = g.stream().map(Row::rssB).filter(Objects::nonNull).max(Long::compare);
            out.add(new Cell(first.proxy(), first.protocol(), first.body(), first.concurrency(),
                    median(g, Row::rps), median(g, Row::p50Ms), median(g, Row::p99Ms),
                    cpu.isEmpty() ? null : median(cpu, d -> d),
                    rssA.map(k -> k / 1024.0).orElse(null), rssB.map(k -> k / 1024.0).orElse(null),
                    g.stream().mapToLong(Row::errors).sum(), g.size()));
        }
        out.sort(Comparator.comparingInt(Cell::body).thenComparingInt(Cell::concurrency)
                .thenComparingInt(c -> order(c.proxy())).thenComparing(Cell::protocol));
        return out;
    }

    private static int order(String proxy) {
        return switch (proxy) {
            case DIRECT -> 0;
            case WARD -> 1;
            case HAPROXY -> 2;
            case "nginx" -> 3;
            default -> 4;
        };
    }

    static <T> double median(List<T> xs, ToDoubleFunction<T> f) {
        double[] v = xs.stream().mapToDouble(f).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    Optional<Cell> find(String proxy, String protocol, int body, int concurrency) {
        return cells.stream().filter(c -> c.proxy().equals(proxy) && c.protocol().equals(protocol)
                && c.body() == body && c.concurrency() == concurrency).findFirst();
    }

    /** The HTTP/1.1 cell of {@code proxy} beside {@code c}: what {@code c} is compared with. */
    private Optional<Cell> beside(String proxy, Cell c) {
        return find(proxy, "http1", c.body(), c.concurrency());
    }

    String markdown(String csvName, String pngName) {
        StringBuilder md = new StringBuilder();
        md.append("# End-to-end: Ward, HAProxy and nginx as the same two-hop mTLS sidecar pair\n\n");
        md.append("Produced by `perf/e2e/run.sh` from [").append(csvName).append("](").append(csvName)
                .append(") (every repeat). Medians over the repeats of each cell; peak RSS is the highest of the "
                        + "repeats. CPU is both processes of the pair (A and B), in CPU-seconds per 1,000 requests. "
                        + "×HAProxy and ×direct compare with the HTTP/1.1 cell of the same body and concurrency.\n\n");
        md.append("![latency and throughput per proxy](").append(pngName).append(")\n\n");
        md.append("## Machine\n\n```\n");
        machine.forEach(l -> md.append(l).append('\n'));
        md.append("```\n\n");
        md.append(targets());
        for (int body : new TreeSet<>(cells.stream().map(Cell::body).toList())) {
            md.append("## ").append(body).append("-byte responses\n\n");
            md.append("| c | proxy | req/s | ×HAProxy | ×direct | p50 ms | p99 ms | p99 ×HAProxy | CPU s/1k req | CPU ×HAProxy "
                    + "| peak RSS MiB (A / B) | errors |\n");
            md.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            for (Cell c : cells) {
                if (c.body() != body) {
                    continue;
                }
                Optional<Cell> h = beside(HAPROXY, c);
                Optional<Cell> d = beside(DIRECT, c);
                md.append(String.format(Locale.ROOT, "| %d | %s | %,.0f | %s | %s | %.2f | %.2f | %s | %s | %s | %s | %d |%n",
                        c.concurrency(), c.label(), c.rps(),
                        ratio(c.rps(), h.map(Cell::rps)), ratio(c.rps(), d.map(Cell::rps)),
                        c.p50Ms(), c.p99Ms(), ratio(c.p99Ms(), h.map(Cell::p99Ms)),
                        c.cpuPer1k() == null ? "–" : String.format(Locale.ROOT, "%.3f", c.cpuPer1k()),
                        c.cpuPer1k() == null ? "–" : ratio(c.cpuPer1k(), h.map(Cell::cpuPer1k)),
                        c.rssPeakMibA() == null ? "–"
                                : String.format(Locale.ROOT, "%.0f / %.0f", c.rssPeakMibA(), c.rssPeakMibB()),
                        c.errors()));
            }
            md.append('\n');
        }
        if (!startups.isEmpty()) {
            md.append("## Ward start-up\n\n");
            md.append(String.format(Locale.ROOT, "%d starts of an inbound sidecar, from `java` to `/readyz` answering "
                            + "200: median %.0f ms (min %.0f, max %.0f); RSS once ready: median %.0f MiB.%n%n",
                    startups.size(), median(startups, Startup::ms),
                    startups.stream().mapToDouble(Startup::ms).min().orElse(0),
                    startups.stream().mapToDouble(Startup::ms).max().orElse(0),
                    median(startups, Startup::rssKib) / 1024));
        }
        return md.toString();
    }

    /** The targets, each with this run's value and whether it is met. */
    String targets() {
        StringBuilder t = new StringBuilder("## Targets\n\n| target | this run | met |\n|---|---|---|\n");
        int[] bodies = cells.stream().mapToInt(Cell::body).distinct().sorted().toArray();
        int body = bodies.length == 0 ? 0 : bodies[0];
        for (int c : new int[] {16, 64}) {
            Optional<Cell> w = find(WARD, "http1", body, c);
            Optional<Cell> h = find(HAPROXY, "http1", body, c);
            if (w.isPresent() && h.isPresent()) {
                double r = w.get().rps() / h.get().rps();
                t.append(String.format(Locale.ROOT, "| throughput ≥ HAProxy's at c=%d (%d B) | %.2f× | %s |%n", c, body, r, yes(r >= 1)));
            }
        }
        Optional<Cell> w16 = find(WARD, "http1", body, 16);
        Optional<Cell> h16 = find(HAPROXY, "http1", body, 16);
        if (w16.isPresent() && h16.isPresent()) {
            double p99 = w16.get().p99Ms() / h16.get().p99Ms();
            t.append(String.format(Locale.ROOT, "| p99 ≤ 1.2 × HAProxy's at c=16 | %.2f× | %s |%n", p99, yes(p99 <= 1.2)));
            if (w16.get().cpuPer1k() != null && h16.get().cpuPer1k() != null) {
                double cpu = w16.get().cpuPer1k() / h16.get().cpuPer1k();
                t.append(String.format(Locale.ROOT, "| CPU per request ≤ 1.5 × HAProxy's (c=16) | %.2f× | %s |%n", cpu, yes(cpu <= 1.5)));
            }
        }
        Optional<Double> rss = cells.stream().filter(c -> c.proxy().equals(WARD) && c.rssPeakMibA() != null)
                .map(c -> Math.max(c.rssPeakMibA(), c.rssPeakMibB())).max(Double::compare);
        rss.ifPresent(r -> t.append(String.format(Locale.ROOT, "| RSS per sidecar under load ≤ %.0f MiB | %.0f MiB (highest peak) | %s |%n",
                RSS_TARGET_MIB, r, yes(r <= RSS_TARGET_MIB))));
        if (!startups.isEmpty()) {
            double ms = median(startups, Startup::ms);
            t.append(String.format(Locale.ROOT, "| start-up to ready ≤ 1 s | %.0f ms (median) | %s |%n", ms, yes(ms <= STARTUP_TARGET_MS)));
        }
        return t.append('\n').toString();
    }

    private static String yes(boolean met) {
        return met ? "yes" : "**no**";
    }

    private static String ratio(double value, Optional<Double> base) {
        return base.filter(b -> b > 0).map(b -> String.format(Locale.ROOT, "%.2f", value / b)).orElse("–");
    }

    private static Map<String, String> fields(String header, String line) {
        String[] names = header.split(",", -1);
        String[] values = line.split(",", -1);
        if (names.length != values.length) {
            throw new IllegalArgumentException(values.length + " fields (expected " + names.length + ": " + header + ")");
        }
        Map<String, String> f = new LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) {
            f.put(names[i].trim(), values[i].trim());
        }
        return f;
    }

    private static Double optDouble(String s) {
        return s == null || s.isEmpty() ? null : Double.valueOf(s);
    }

    private static Long optLong(String s) {
        return s == null || s.isEmpty() ? null : Long.valueOf(s);
    }
}
