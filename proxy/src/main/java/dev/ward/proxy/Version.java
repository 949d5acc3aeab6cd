package dev.ward.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** Ward's version, from the build. */
public final class Version {

    private Version() {}

    public static String get() {
        return property("version", "unknown");
    }

    /** A build property from {@code ward-version.properties} (filled in by Maven), or {@code fallback}. */
    public static String property(String name, String fallback) {
        try (InputStream in = Version.class.getResourceAsStream("/ward-version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            String v = p.getProperty(name);
            return v == null || v.startsWith("${") ? fallback : v;
        } catch (IOException e) {
            return fallback;
        }
    }
}
