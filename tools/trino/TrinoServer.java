/**
 * Starts a Trino server from the jars on the classpath, as the release's io.trino.server.TrinoServer
 * does (its artifact, trino-server-main, is not served for 435 by the Maven repository the harness
 * fetches from). The argument is the version the server reports.
 */
public final class TrinoServer {
    public static void main(String[] args) {
        new io.trino.server.Server().start(args[0]);
    }
}
