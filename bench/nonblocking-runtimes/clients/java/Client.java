// Java client for the ax nonblocking-connect study (single-file launch: java Client.java VARIANT HOST PORT).
//   socket              new Socket(); connect(addr)            (no timeout: blocking connect)
//   socket-timeout      new Socket(); connect(addr, 2000)      (NIO impl: nonblocking connect + poll)
//   httpclient          HttpClient (no connect timeout)
//   httpclient-timeout  HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2))
import java.io.*;
import java.net.*;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

public class Client {
    static long start;
    static String el() { return String.format("%.3f", (System.nanoTime() - start) / 1e9); }
    static void done(String outcome, String detail) {
        System.out.println("RESULT outcome=" + outcome + " elapsed=" + el() + "s detail=\"" + detail.replace("\"", "'") + "\"");
        System.out.flush();
        System.exit(outcome.equals("OK") ? 0 : 1);
    }
    static String err(Throwable e) {
        StringBuilder sb = new StringBuilder(e.toString());
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) sb.append(" <- ").append(c);
        return sb.toString();
    }
    public static void main(String[] a) {
        String variant = a[0], host = a[1];
        int port = Integer.parseInt(a[2]);
        System.out.println("START");
        System.out.flush();
        start = System.nanoTime();
        if (variant.startsWith("socket")) {
            Socket s = new Socket();
            try {
                InetSocketAddress addr = new InetSocketAddress(host, port);
                if (variant.equals("socket-timeout")) s.connect(addr, 2000); else s.connect(addr);
            } catch (Throwable e) { done("ERR", err(e)); }
            String at = el();
            try {
                s.setSoTimeout(5000);
                s.getOutputStream().write("GET / HTTP/1.0\r\nHost: study\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                if (line == null) done("ERR", "connected at " + at + "s; EOF before a response");
                done("OK", "connected at " + at + "s; " + line.trim());
            } catch (Throwable e) { done("ERR", "connected at " + at + "s; " + err(e)); }
        } else if (variant.startsWith("httpclient")) {
            HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1);
            if (variant.equals("httpclient-timeout")) b.connectTimeout(Duration.ofSeconds(2));
            try {
                HttpResponse<String> r = b.build().send(
                    HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + "/")).build(),
                    HttpResponse.BodyHandlers.ofString());
                done("OK", "HTTP " + r.statusCode());
            } catch (Throwable e) { done("ERR", err(e)); }
        } else done("ERR", "unknown variant " + variant);
    }
}
