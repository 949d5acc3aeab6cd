package dev.ward.perf.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {

    private static final String HEADER = "proxy,protocol,body_bytes,concurrency,repeat,requests_per_s,p50_ms,p99_ms,"
            + "requests,cpu_s_a,cpu_s_b,rss_peak_kib_a,rss_peak_kib_b,errors";

    private static final List<String> ROWS = List.of(
            // 16 connections, 20 B: three repeats each; the medians are the middle values.
            "direct,http1,20,16,1,40000,0.3,1.0,400000,,,,,0",
            "direct,http1,20,16,2,42000,0.3,1.2,420000,,,,,0",
            "direct,http1,20,16,3,41000,0.3,1.1,410000,,,,,0",
            "haproxy,http1,20,16,1,10000,1.5,3.0,100000,3.0,3.0,20000,21000,0",
            "haproxy,http1,20,16,2,12000,1.4,2.0,120000,3.0,3.0,20480,21000,0",
            "haproxy,http1,20,16,3,11000,1.4,2.5,110000,3.0,3.0,20000,21000,0",
            "ward,http1,20,16,1,11000,1.4,3.0,110000,4.0,4.0,60000,61000,0",
            "ward,http1,20,16,2,13000,1.3,3.0,130000,4.0,4.0,70000,61000,0",
            "ward,http1,20,16,3,12100,1.3,2.9,121000,4.0,4.0,60000,61000,1",
            "ward,http2,20,16,1,15000,1.0,2.0,150000,4.0,4.0,60000,61000,0",
            "nginx,http1,20,16,1,9000,1.7,3.5,90000,3.5,3.5,15000,15000,0",
            // 64 connections: Ward slower than HAProxy.
            "haproxy,http1,20,64,1,14000,4.5,9.0,140000,4.0,4.0,21000,21000,0",
            "ward,http1,20,64,1,13000,4.9,12.0,130000,5.0,5.0,62000,62000,0",
            "ward,http1,16384,64,1,5000,12,30,50000,5.0,5.0,62000,62000,0");

    private static Report report() {
        List<Report.Row> rows = ROWS.stream().map(l -> Report.Row.parse(HEADER, l)).toList();
        return new Report(rows, List.of(new Report.Startup(700, 40 * 1024), new Report.Startup(650, 41 * 1024),
                new Report.Startup(2000, 40 * 1024)), List.of("cpu: test x 2"));
    }

    @Test
    void cellsAreMediansOverRepeatsAndPeaksAreTheHighest() {
        Report.Cell ward = report().find("ward", "http1", 20, 16).orElseThrow();
        assertThat(ward.rps()).isEqualTo(12100);
        assertThat(ward.p99Ms()).isEqualTo(3.0);
        assertThat(ward.cpuPer1k()).isCloseTo(8.0 * 1000 / 121000, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(ward.rssPeakMibA()).isEqualTo(70000 / 1024.0);
        assertThat(ward.errors()).isEqualTo(1);
        assertThat(ward.repeats()).isEqualTo(3);
        assertThat(report().find("direct", "http1", 20, 16).orElseThrow().cpuPer1k()).isNull();
    }

    @Test
    void tableGivesRatiosToHaproxyAndDirect() {
        String md = report().markdown("e2e.csv", "e2e.png");
        // Ward at c=16: 12,100 / 11,000 = 1.10 × HAProxy, 12,100 / 41,000 = 0.30 × direct, p99 3.0 / 2.5 = 1.20.
        assertThat(md).contains("| 16 | ward | 12,100 | 1.10 | 0.30 | 1.30 | 3.00 | 1.20 |");
        // HTTP/2 is compared with HAProxy's HTTP/1.1 cell.
        assertThat(md).contains("| 16 | ward (h2) | 15,000 | 1.36 |");
        assertThat(md).contains("| 16 | haproxy | 11,000 | 1.00 | 0.27 |");
        // No HAProxy cell at 16 KiB: no ratio rather than a wrong one.
        assertThat(md).contains("| 64 | ward | 5,000 | – | – |");
        assertThat(md).contains("![latency and throughput per proxy](e2e.png)").contains("cpu: test x 2");
    }

    @Test
    void targetsAreCheckedAgainstThisRun() {
        String t = report().targets();
        assertThat(t).contains("| throughput ≥ HAProxy's at c=16 (20 B) | 1.10× | yes |");
        assertThat(t).contains("| throughput ≥ HAProxy's at c=64 (20 B) | 0.93× | **no** |");
        assertThat(t).contains("| p99 ≤ 1.2 × HAProxy's at c=16 | 1.20× | yes |");
        // CPU: 8 s / 121,000 against 6 s / 110,000 = 1.21.
        assertThat(t).contains("| CPU per request ≤ 1.5 × HAProxy's (c=16) | 1.21× | yes |");
        assertThat(t).contains("| RSS per sidecar under load ≤ 64 MiB | 68 MiB (highest peak) | **no** |");
        assertThat(t).contains("| start-up to ready ≤ 1 s | 700 ms (median) | yes |");
    }

    @Test
    void writesTheMarkdownAndAPngChartPerResponseSize(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("e2e.csv");
        Files.writeString(csv, HEADER + "\n" + String.join("\n", ROWS) + "\n", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("startup.csv"), "run,startup_ms,rss_ready_kib\n1,640,41000\n", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("machine.txt"), "cpu: test x 2\n", StandardCharsets.UTF_8);
        Report.main(new String[] {csv.toString(), dir.resolve("startup.csv").toString(),
            dir.resolve("machine.txt").toString(), dir.resolve("e2e.md").toString(), dir.resolve("e2e.png").toString()});

        assertThat(Files.readString(dir.resolve("e2e.md"))).contains("| start-up to ready ≤ 1 s | 640 ms (median) | yes |");
        BufferedImage png = ImageIO.read(dir.resolve("e2e.png").toFile());
        assertThat(png).isNotNull();
        assertThat(png.getWidth()).isEqualTo(2 * 640);
        assertThat(png.getHeight()).isEqualTo(2 * 400); // two response sizes, a row each
    }

    @Test
    void aMalformedRowIsRejectedWithItsLine(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("bad.csv");
        Files.writeString(csv, HEADER + "\n" + ROWS.get(0) + "\nward,http1,20,16\n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> Report.readRows(csv))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad.csv line 3: 4 fields (expected 14");
    }
}
