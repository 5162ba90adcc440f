package io.trino.filesystem.hdfs;

import io.opentelemetry.api.OpenTelemetry;
import io.trino.filesystem.TrinoFileSystemFactory;
import io.trino.filesystem.local.LocalFileSystemFactory;
import io.trino.spi.NodeManager;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * Stands in for the HDFS file system that the Hive plugin loads from its hdfs/ directory (trino-hdfs
 * and Hadoop, which the release tarball provisions there) with Trino's own local file system, so
 * the Hive connector reads local:///absolute/path locations. Athena reads S3, not HDFS: the file
 * system is not what the harness checks. The constructor and methods are the ones Trino 435's
 * io.trino.filesystem.manager.HdfsFileSystemLoader calls by reflection.
 */
public final class HdfsFileSystemManager {
    public HdfsFileSystemManager(
            Map<String, String> config,
            boolean nativeAzureEnabled,
            boolean nativeGcsEnabled,
            boolean nativeS3Enabled,
            String catalogName,
            NodeManager nodeManager,
            OpenTelemetry openTelemetry) {}

    /** The catalog properties this file system reads: none. */
    public Set<String> configure() {
        return Set.of();
    }

    public TrinoFileSystemFactory create() {
        return new LocalFileSystemFactory(Path.of("/"));
    }

    public void stop() {}
}
