// Starts AWS's DynamoDB Local listening on 127.0.0.1 only. DynamoDB Local has no option for the
// address it binds (its Jetty server listens on every interface), so this does what its
// ServerRunner.main does, with telemetry off, and moves the server's one connector to 127.0.0.1
// before starting it. pkg/localaws compiles it once against the pinned jar; it prints
// "localaws: DynamoDB Local listening on 127.0.0.1:PORT" once the port is bound, or exits 1.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.monitoring.Telemetry;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Telemetry.configureTelemetry("localaws", "inMemory", false);

        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        Connector[] connectors = server.getConnectors();
        if (connectors.length != 1 || !(connectors[0] instanceof ServerConnector)) {
            fail("expected one ServerConnector in DynamoDB Local's server, found " + connectors.length);
        }
        ServerConnector connector = (ServerConnector) connectors[0];
        connector.setHost("127.0.0.1");

        proxy.start(); // prints its own error and returns if the port cannot be bound
        int port = connector.getLocalPort();
        if (!server.isStarted() || port <= 0) {
            fail("DynamoDB Local did not start on 127.0.0.1");
        }
        System.out.println("localaws: DynamoDB Local listening on " + connector.getHost() + ":" + port);
    }

    private static void fail(String message) {
        System.err.println("localaws: " + message);
        System.exit(1);
    }
}
