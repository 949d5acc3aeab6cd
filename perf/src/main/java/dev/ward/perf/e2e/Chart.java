package dev.ward.perf.e2e;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The report's PNG (XChart): per response size, p99 latency against concurrency, and throughput per
 * proxy at each concurrency. One row of two charts per response size.
 */
final class Chart {

    private static final Color[] COLORS = {
        new Color(0x59, 0x59, 0x59), new Color(0x1f, 0x77, 0xb4), new Color(0xd6, 0x27, 0x28),
        new Color(0x2c, 0xa0, 0x2c), new Color(0x94, 0x67, 0xbd), new Color(0xff, 0x7f, 0x0e),
    };

    private Chart() {}

    static void write(List<Report.Cell> cells, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Set<String> labels = new LinkedHashSet<>();
        cells.forEach(c -> labels.add(c.label()));
        List<org.knowm.xchart.internal.chartpart.Chart<?, ?>> charts = new ArrayList<>();
        Set<Integer> bodies = new TreeSet<>(cells.stream().map(Report.Cell::body).toList());
        for (int body : bodies) {
            charts.add(latency(cells, labels, body));
            charts.add(throughput(cells, labels, body));
        }
        String file = png.toString();
        String base = file.endsWith(".png") ? file.substring(0, file.length() - 4) : file;
        BitmapEncoder.saveBitmap(charts, bodies.size(), 2, base, BitmapEncoder.BitmapFormat.PNG);
    }

    private static void style(Styler styler) {
        styler.setLegendPosition(Styler.LegendPosition.InsideNW);
        styler.setSeriesColors(COLORS);
        styler.setChartBackgroundColor(Color.WHITE);
    }

    private static XYChart latency(List<Report.Cell> cells, Set<String> labels, int body) {
        XYChart chart = new XYChartBuilder().width(640).height(400)
                .title("p99 latency, " + body + " B responses").xAxisTitle("concurrent connections (log)")
                .yAxisTitle("p99 ms (log)").build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setYAxisLogarithmic(true);
        style(chart.getStyler());
        for (String label : labels) {
            List<Report.Cell> series = cells.stream().filter(c -> c.body() == body && c.label().equals(label)).toList();
            if (series.isEmpty()) {
                continue;
            }
            chart.addSeries(label, series.stream().mapToDouble(Report.Cell::concurrency).toArray(),
                    series.stream().mapToDouble(Report.Cell::p99Ms).toArray()).setMarker(SeriesMarkers.CIRCLE);
        }
        return chart;
    }

    private static CategoryChart throughput(List<Report.Cell> cells, Set<String> labels, int body) {
        CategoryChart chart = new CategoryChartBuilder().width(640).height(400)
                .title("throughput, " + body + " B responses").xAxisTitle("concurrent connections")
                .yAxisTitle("requests/s").build();
        chart.getStyler().setOverlapped(false);
        style(chart.getStyler());
        List<String> concurrency = cells.stream().filter(c -> c.body() == body).map(Report.Cell::concurrency)
                .distinct().sorted().map(String::valueOf).toList();
        for (String label : labels) {
            List<Double> rps = new ArrayList<>();
            for (String c : concurrency) {
                rps.add(cells.stream().filter(x -> x.body() == body && x.label().equals(label)
                                && String.valueOf(x.concurrency()).equals(c))
                        .mapToDouble(Report.Cell::rps).findFirst().orElse(0));
            }
            if (rps.stream().anyMatch(v -> v > 0)) {
                chart.addSeries(label, concurrency, rps);
            }
        }
        return chart;
    }
}
